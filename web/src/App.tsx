import { Suspense, lazy, useEffect, useMemo, useState } from "react";
import { configureApi } from "./api";
import { completeSignIn, currentSession, forget, signOut, startSignIn, type Session } from "./auth";
import type { RuntimeConfig } from "./config";
import { Link, usePath } from "./router";
import { OverviewPage } from "./pages/OverviewPage";
import { StrategiesPage } from "./pages/StrategiesPage";
import { StrategyPage } from "./pages/StrategyPage";
import { builderRoute, loadBuilder, prefetchBuilder } from "./builder/preload";

// The builder is a lazy route: React Flow loads in its own chunk, never with the dashboard.
const BuilderPage = lazy(loadBuilder);

export function App({ config }: { config: RuntimeConfig }) {
  const [session, setSession] = useState<Session | null>(null);
  const [ready, setReady] = useState(false);
  const [problem, setProblem] = useState<string>("");

  useEffect(() => {
    completeSignIn(config)
      .catch((err: Error) => setProblem(err.message))
      .finally(() => {
        setSession(currentSession());
        setReady(true);
      });
  }, [config]);

  useEffect(() => {
    configureApi(
      config.api_base,
      () => currentSession()?.token ?? null,
      () => {
        forget();
        setProblem("Your session has ended: please sign in again.");
        setSession(null);
      },
      config.routes,
    );
  }, [config]);

  useEffect(() => {
    if (!session) return undefined;
    // sign in again when the token runs out, rather than failing requests
    const timer = window.setTimeout(() => {
      forget();
      setProblem("Your session has ended: please sign in again.");
      setSession(null);
    }, Math.max(0, session.expiresAt - Date.now()));
    return () => window.clearTimeout(timer);
  }, [session]);

  if (!ready) return <p aria-live="polite">Signing in…</p>;
  if (!session) return <SignIn config={config} problem={problem} />;
  return (
    <>
      <header className="top">
        <nav aria-label="Main">
          <Link href="/app" className="brand">
            Autopilot
          </Link>
          <Link href="/app">Strategies</Link>
          <Link href="/app/overview">Overview</Link>
        </nav>
        <div className="who">
          <span className="muted">{session.user}</span>
          <button type="button" onClick={() => signOut(config)}>
            Sign out
          </button>
        </div>
      </header>
      <Routes />
    </>
  );
}

function Routes() {
  const path = usePath();
  const builder = useMemo(() => builderRoute(path), [path]);
  // the builder's requests start with its chunk, not after it (once per visit: it takes them when it opens)
  useMemo(() => builder && prefetchBuilder(builder.strategyId), [builder]);
  if (builder) {
    const id = builder.strategyId;
    return (
      <Suspense fallback={<p aria-live="polite">Loading the builder…</p>}>
        <BuilderPage key={id ?? "new"} strategyId={id} />
      </Suspense>
    );
  }
  const strategy = /^\/app\/strategies\/([^/]+)\/?$/.exec(path);
  if (strategy) return <StrategyPage key={strategy[1]} strategyId={decodeURIComponent(strategy[1])} />;
  if (/^\/app\/overview\/?$/.test(path)) return <OverviewPage />;
  if (/^\/app\/?$/.test(path)) return <StrategiesPage />;
  return (
    <main>
      <h1>Not found</h1>
      <p>
        No page at this address. <Link href="/app">Back to the strategies</Link>
      </p>
    </main>
  );
}

function SignIn({ config, problem }: { config: RuntimeConfig; problem: string }) {
  return (
    <main className="signin">
      <h1>Autopilot</h1>
      <p>Sign in to see and control your strategies.</p>
      {problem ? (
        <p className="error" role="alert">
          {problem}
        </p>
      ) : null}
      <button type="button" className="primary" onClick={() => void startSignIn(config)}>
        Sign in
      </button>
    </main>
  );
}
