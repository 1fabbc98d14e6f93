// Every figure the dashboard shows by its API field name: its human label and how its value is written. One
// table: the strategy's key figures, the account view, the comparison, deployment summaries, backtests and the
// risk limits all render from it, so a field reads the same everywhere and no card formats on its own.
import type { ReactNode } from "react";
import { Money, Time } from "./components/common";
import { num, pct } from "./format";

/**
 * usd: money; pnl: money with its sign and colour; pct: a number already in percent, signed; limit_pct: a
 * percent setting, unsigned; ratio: 0..1 written as a percent; ratio_signed: the same with a sign (growth);
 * count: a whole number; number: a unitless figure (Sharpe, profit factor); seconds: a duration; text; time.
 */
export type MetricKind = "usd" | "pnl" | "pct" | "limit_pct" | "ratio" | "ratio_signed" | "count" | "number" | "seconds" | "text" | "time";

export interface Metric {
  label: string;
  kind: MetricKind;
}

export const METRICS = {
  // money
  bankroll_usd: { label: "Bankroll", kind: "usd" },
  paper_bankroll_usd: { label: "Bankroll", kind: "usd" },
  cash_usd: { label: "Cash", kind: "usd" },
  equity_usd: { label: "Equity", kind: "usd" },
  positions_value_usd: { label: "Positions value", kind: "usd" },
  fees_paid_usd: { label: "Fees paid", kind: "usd" },
  total_usd: { label: "Total exposure", kind: "usd" },
  exposure_usd: { label: "Exposure", kind: "usd" },
  max_drawdown_usd: { label: "Max drawdown", kind: "usd" },
  max_relative_drawdown_usd: { label: "Max relative drawdown", kind: "usd" },
  avg_win_usd: { label: "Average win", kind: "usd" },
  avg_loss_usd: { label: "Average loss", kind: "usd" },
  capital_locked_open_usd: { label: "Capital in open positions", kind: "usd" },
  capital_locked_awaiting_resolution_usd: { label: "Capital awaiting resolution", kind: "usd" },
  // profit and loss
  total_pnl_usd: { label: "Total P&L", kind: "pnl" },
  realized_pnl_usd: { label: "Realized P&L", kind: "pnl" },
  unrealized_pnl_usd: { label: "Unrealized P&L", kind: "pnl" },
  total_profit_usd: { label: "Total profit", kind: "pnl" },
  closed_profit_usd: { label: "Closed profit", kind: "pnl" },
  expectancy_usd: { label: "Expectancy per trade", kind: "pnl" },
  // percentages and ratios
  total_pnl_pct: { label: "Total P&L %", kind: "pct" },
  roi_pct: { label: "ROI", kind: "pct" },
  total_profit_pct: { label: "Total profit %", kind: "pct" },
  closed_profit_pct: { label: "Closed profit %", kind: "pct" },
  win_rate: { label: "Win rate", kind: "ratio" },
  max_drawdown_relative: { label: "Max drawdown %", kind: "ratio" },
  max_relative_drawdown: { label: "Max relative drawdown %", kind: "ratio" },
  share: { label: "Share of equity", kind: "ratio" },
  progress: { label: "Progress", kind: "ratio" },
  cagr: { label: "CAGR", kind: "ratio_signed" },
  time_weighted_return: { label: "Time-weighted return", kind: "ratio_signed" },
  // unitless figures
  sharpe: { label: "Sharpe", kind: "number" },
  sortino: { label: "Sortino", kind: "number" },
  calmar: { label: "Calmar", kind: "number" },
  sqn: { label: "SQN", kind: "number" },
  profit_factor: { label: "Profit factor", kind: "number" },
  expectancy_ratio: { label: "Expectancy ratio", kind: "number" },
  brier_score: { label: "Brier score", kind: "number" },
  // counts
  strategies_count: { label: "Strategies", kind: "count" },
  open_positions_count: { label: "Open positions", kind: "count" },
  closed_trades_count: { label: "Closed trades", kind: "count" },
  ledger_trades_count: { label: "Trades", kind: "count" },
  trades: { label: "Trades", kind: "count" },
  trades_count: { label: "Trades", kind: "count" },
  wins: { label: "Wins", kind: "count" },
  losses: { label: "Losses", kind: "count" },
  trading_days: { label: "Trading days", kind: "count" },
  slots_done: { label: "Slots done", kind: "count" },
  slots_total: { label: "Slots", kind: "count" },
  history_requests: { label: "History requests", kind: "count" },
  // settings and states
  max_total_exposure_usd: { label: "Max total exposure", kind: "usd" },
  max_market_exposure_usd: { label: "Max exposure per market", kind: "usd" },
  max_event_exposure_usd: { label: "Max exposure per event", kind: "usd" },
  daily_loss_stop_usd: { label: "Daily loss stop", kind: "usd" },
  max_drawdown_pct: { label: "Max drawdown (kill switch)", kind: "limit_pct" },
  timezone: { label: "Timezone", kind: "text" },
  status: { label: "Status", kind: "text" },
  avg_holding_seconds: { label: "Average holding time", kind: "seconds" },
  completed_at: { label: "Completed", kind: "time" },
} as const satisfies Record<string, Metric>;

export type MetricName = keyof typeof METRICS;

function duration(seconds: number): string {
  if (seconds < 3600) return `${num(seconds / 60, 0)} min`;
  if (seconds < 86_400) return `${num(seconds / 3600, 1)} h`;
  return `${num(seconds / 86_400, 1)} days`;
}

/** A value written as its metric says; null and missing are "–". */
export function MetricValue({ name, value }: { name: MetricName; value: unknown }): ReactNode {
  if (value === null || value === undefined) return <span className="muted">–</span>;
  const kind: MetricKind = METRICS[name].kind;
  if (kind === "text") return <span>{String(value)}</span>;
  if (kind === "time") return <Time iso={String(value)} />;
  const n = Number(value);
  switch (kind) {
    case "usd":
      return <Money value={n} />;
    case "pnl":
      return <Money value={n} signed />;
    case "pct":
      return <span>{pct(n)}</span>;
    case "limit_pct":
      return <span>{pct(n, false)}</span>;
    case "ratio":
      return <span>{pct(n * 100, false)}</span>;
    case "ratio_signed":
      return <span>{pct(n * 100)}</span>;
    case "count":
      return <span>{num(n, 0)}</span>;
    case "seconds":
      return <span>{duration(n)}</span>;
    default:
      return <span>{num(n, 2)}</span>;
  }
}

/** Figures of one API object, labelled from the table, in the order given. */
export function Figures<T extends object>({ item, names, label }: { item: T; names: readonly (MetricName & keyof T)[]; label?: string }) {
  return (
    <dl className="figures" aria-label={label}>
      {names.map((name) => (
        <div key={name}>
          <dt>{METRICS[name].label}</dt>
          <dd>
            <MetricValue name={name} value={item[name]} />
          </dd>
        </div>
      ))}
    </dl>
  );
}
