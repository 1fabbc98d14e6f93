// The shapes of DESIGN 2/4 the dashboard reads (numbers as JSON numbers, times RFC 3339 UTC).
export type Status = "DRAFT" | "DEPLOYED" | "RUNNING" | "PAUSED" | "STOPPED";

export interface Strategy {
  strategy_id: string;
  strategy_name: string;
  strategy_description?: string | null;
  node_graph: unknown;
  graph_version: number;
  status: Status;
  schedule_cron: string | null;
  frequency: string | null;
  timezone: string;
  trading_mode: string;
  paper_bankroll_usd: number | null;
  paper_pnl_usd: number;
  paper_positions_count: number;
  total_executions: number;
  last_executed_at: string | null;
  last_execution_status: string | null;
  next_execution_at: string | null;
  consecutive_failures: number;
  max_consecutive_failures: number;
  pause_reason: string | null;
  version: number;
  next_slots?: string[];
  sparkline?: number[] | null;
}

export interface Position {
  token_id: string;
  market_id: string;
  question: string;
  outcome: string;
  outcome_label: string;
  shares: number;
  avg_price: number;
  cost_usd: number;
  mark_price: number | null;
  value_usd: number;
  unrealized_pnl_usd: number;
  status: string;
}

export interface Portfolio {
  bankroll_usd: number;
  cash_usd: number;
  equity_usd: number;
  realized_pnl_usd: number;
  unrealized_pnl_usd: number;
  total_pnl_usd: number;
  roi_pct: number;
  win_rate: number | null;
  fees_paid_usd: number;
  open_positions_count: number;
  positions: Position[];
}

export interface CurvePoint {
  at: string;
  equity_usd: number;
  realized_equity_usd?: number | null;
}

export interface Performance {
  bankroll_usd: number;
  equity_usd: number;
  total_profit_usd: number;
  total_profit_pct: number;
  win_rate: number | null;
  max_drawdown_usd: number;
  max_drawdown_relative: number;
  fees_paid_usd: number;
  open_positions_count: number;
  closed_trades_count: number;
  sharpe?: number | null;
  sortino?: number | null;
  equity_curve: CurvePoint[];
}

export interface Trade {
  trade_id: string;
  market_id: string;
  question: string;
  outcome: string;
  outcome_label: string;
  side: "BUY" | "SELL" | "SETTLE";
  shares: number;
  price: number;
  fee_usd: number;
  notional_usd: number;
  created_at: string;
  reason: string;
}

export interface NodeTrace {
  node_id: string;
  type: string;
  received: number;
  kept: number;
  duration_ms: number;
  decisions: Record<string, unknown>[];
  error: string | null;
  truncated: boolean;
}

export interface Execution {
  execution_id: string;
  status: string;
  scheduled_for: string;
  trigger: string;
  executed_at: string;
  execution_time_ms: number;
  nodes_executed: number;
  trades_created: number;
  graph_version: number;
  error_code: string | null;
  error_message: string | null;
  missed_slots: number | null;
  trace?: NodeTrace[];
  truncated?: boolean;
}
