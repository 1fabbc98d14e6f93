// What opening the builder waits for, started as early as each can be: its chunk as soon as the page knows it
// is the builder's (before the runtime config arrives), and, once the API is configured, the node catalogue,
// the strategy and the check of its saved graph, in parallel with the chunk. Small and eager (no React Flow).
import { api } from "../api";
import type { NodeType } from "./schema";

/** The builder's route: `{}` for a new strategy, `{strategyId}` to edit one, null for any other page. */
export function builderRoute(path: string): { strategyId?: string } | null {
  const edit = /^\/app\/strategies\/([^/]+)\/edit\/?$/.exec(path);
  if (edit) return { strategyId: decodeURIComponent(edit[1]) };
  return /^\/app\/builder\/?$/.test(path) ? {} : null;
}

let chunk: Promise<typeof import("./BuilderPage")> | null = null;

/** The builder's chunk (React Flow), loaded once; `React.lazy` and the early start share it. */
export function loadBuilder(): Promise<typeof import("./BuilderPage")> {
  chunk ??= import("./BuilderPage");
  return chunk;
}

export interface Opened<S> {
  catalogue: Promise<{ items: NodeType[] }>;
  strategy: Promise<S> | null;
  /** `POST /strategies/validate` of the strategy's graph as saved: the builder's first check of it. */
  check: Promise<unknown> | null;
}

let started: { key: string; opened: Opened<unknown> } | null = null;

/** Start the builder's requests for this route (once per route, until the builder takes them). */
export function prefetchBuilder(strategyId?: string): void {
  const key = strategyId ?? "";
  if (started?.key === key) return;
  const quiet = <T,>(promise: Promise<T>) => {
    promise.catch(() => undefined); // the builder reports a failure when it takes the promise
    return promise;
  };
  const catalogue = quiet(api<{ items: NodeType[] }>("GET", "/node-types"));
  const strategy = strategyId ? quiet(api<{ node_graph: unknown }>("GET", `/strategies/${encodeURIComponent(strategyId)}`)) : null;
  const check = strategy ? quiet(strategy.then((s) => api("POST", "/strategies/validate", { node_graph: s.node_graph }))) : null;
  started = { key, opened: { catalogue, strategy, check } };
}

/** The requests started for this route, taken once (a later visit asks again, so it never sees stale data). */
export function takePrefetched<S>(strategyId?: string): Opened<S> {
  prefetchBuilder(strategyId);
  const opened = (started as { opened: Opened<S> }).opened;
  started = null;
  return opened;
}
