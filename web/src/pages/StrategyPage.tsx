import { useCallback, useState } from "react";
import { api, ApiError, query, type Page } from "../api";
import { Controls } from "../components/Controls";
import { DeployDialog } from "../components/DeployDialog";
import { EquityCharts } from "../components/EquityCharts";
import { ErrorNote, Section, Time } from "../components/common";
import { Executions } from "../components/Executions";
import { Positions, Trades } from "../components/Trades";
import { useLoad } from "../hooks";
import { knownDeployed } from "../known";
import { Figures } from "../metrics";
import { Link } from "../router";
import { Backtests } from "../sections/Backtests";
import { Deployments, Timeline, Versions, Watchlists } from "../sections/StrategyHistory";
import type { Performance, Portfolio, Strategy, Trade } from "../types";
import { StatusBadge } from "./StrategiesPage";

const MARKER_TRADES = 1000;
const NO_TRADES: Trade[] = [];

async function recentTrades(strategyId: string): Promise<Trade[]> {
  const out: Trade[] = [];
  let token: string | null = null;
  do {
    const page: Page<Trade> = await api("GET", `/strategies/${strategyId}/trades${query({ limit: 100, next_token: token })}`);
    out.push(...page.items);
    token = page.next_token;
  } while (token && out.length < MARKER_TRADES);
  return out;
}

async function optional<T>(load: Promise<T>): Promise<T | null> {
  try {
    return await load;
  } catch (err) {
    // no portfolio before the first deploy: 404 strategy data, shown as "not deployed yet"
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

export function StrategyPage({ strategyId }: { strategyId: string }) {
  const [deploying, setDeploying] = useState(false);
  const strategy = useLoad(() => api<Strategy>("GET", `/strategies/${strategyId}`), [strategyId]);
  // a strategy never deployed has no portfolio yet: nothing to ask. Opened from the list, the page already
  // knows (the list's answer) and asks for the figures beside the strategy; the strategy's answer decides.
  const deployed = strategy.data ? strategy.data.paper_bankroll_usd !== null : knownDeployed(strategyId);
  const figures = useLoad(
    () =>
      deployed
        ? Promise.all([
            optional(api<Portfolio>("GET", `/strategies/${strategyId}/portfolio`)),
            optional(api<Performance>("GET", `/strategies/${strategyId}/performance`)),
          ])
        : Promise.resolve(null),
    [strategyId, deployed],
  );
  // The chart's answers go first: the sections below, and the chart's trade markers (up to 1,000 trades),
  // ask only once the figures and the curve have arrived, so their requests never queue in front of them.
  const chartSettled = deployed === false || (deployed === true && (figures.data !== null || figures.error !== null));
  const markers = useLoad(
    () => (deployed && chartSettled ? recentTrades(strategyId) : Promise.resolve([] as Trade[])),
    [strategyId, deployed, chartSettled],
  );
  const refresh = useCallback(() => {
    strategy.reload();
    figures.reload();
    markers.reload();
  }, [strategy, figures, markers]);
  const s = strategy.data;
  const [portfolio, performance] = figures.data ?? [null, null];
  const trades = markers.data ?? NO_TRADES;
  const waiting = deployed && !figures.data && !figures.error;

  if (strategy.error && !s) {
    return (
      <main>
        <p>
          <Link href="/app">← Strategies</Link>
        </p>
        <ErrorNote error={strategy.error} />
      </main>
    );
  }
  if (!s) return <main aria-busy="true"><p aria-live="polite">Loading…</p></main>;
  return (
    <main>
      <p>
        <Link href="/app">← Strategies</Link>
      </p>
      <div className="page-head">
        <h1>{s.strategy_name}</h1>
        <Link href={`/app/strategies/${encodeURIComponent(s.strategy_id)}/edit`}>Edit in the builder</Link>
        <StatusBadge strategy={s} />
      </div>
      {s.strategy_description ? <p className="muted">{s.strategy_description}</p> : null}
      <p className="muted">
        {s.trading_mode} · {s.frequency ?? s.schedule_cron ?? "not scheduled"} ({s.timezone}) · graph version {s.graph_version} · next slot{" "}
        <Time iso={s.next_execution_at} />
      </p>
      <Controls strategy={s} onChanged={refresh}>
        <button type="button" onClick={() => setDeploying(true)} disabled={s.status === "RUNNING"}>
          Deploy
        </button>
      </Controls>
      <DeployDialog strategy={s} open={deploying} onClose={() => setDeploying(false)} onDeployed={refresh} />
      <ErrorNote error={figures.error} />

      <Section title="Key figures">
        {portfolio ? (
          <KeyFigures portfolio={portfolio} performance={performance} />
        ) : waiting ? (
          <p aria-live="polite">Loading…</p>
        ) : (
          <p className="muted">No portfolio yet: deploy the strategy to start one.</p>
        )}
      </Section>
      <Section title="Equity and drawdown">
        {performance ? (
          <EquityCharts curve={performance.equity_curve} trades={trades} />
        ) : waiting ? (
          <p aria-live="polite">Loading…</p>
        ) : (
          <p className="muted">No equity curve yet.</p>
        )}
      </Section>
      {chartSettled ? (
        <>
          <Section title="Positions">
            <Positions positions={portfolio?.positions ?? []} />
          </Section>
          <Section title="Trades">
            <Trades strategyId={strategyId} />
          </Section>
          <Section title="Execution history">
            <Executions strategyId={strategyId} />
          </Section>
          <Deployments strategyId={strategyId} />
          <Versions strategy={s} onRestored={refresh} />
          <Timeline strategyId={strategyId} />
          <Watchlists strategy={s} />
          <Backtests strategy={s} liveCurve={performance?.equity_curve ?? []} />
        </>
      ) : null}
    </main>
  );
}

// the key figures: the portfolio's, with the drawdown and Sharpe of the performance document
const KEY_FIGURES = [
  "equity_usd",
  "total_pnl_usd",
  "roi_pct",
  "realized_pnl_usd",
  "unrealized_pnl_usd",
  "win_rate",
  "open_positions_count",
  "max_drawdown_usd",
  "max_drawdown_relative",
  "sharpe",
  "fees_paid_usd",
  "cash_usd",
  "bankroll_usd",
] as const;

function KeyFigures({ portfolio, performance }: { portfolio: Portfolio; performance: Performance | null }) {
  const item = {
    ...portfolio,
    max_drawdown_usd: performance?.max_drawdown_usd ?? null,
    max_drawdown_relative: performance?.max_drawdown_relative ?? null,
    sharpe: performance?.sharpe ?? null,
  };
  return <Figures item={item} names={KEY_FIGURES} label="Key figures" />;
}
