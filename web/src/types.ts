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

// DESIGN 2: deployment records, graph versions, the activity timeline, watchlists (issue 13)
export interface DeploymentSummary {
  equity_usd: number;
  total_pnl_usd: number;
  roi_pct: number;
  trades: number;
  win_rate: number | null;
}

export interface Deployment {
  deployment_id: string;
  strategy_id: string;
  trading_mode: string;
  paper_bankroll_usd: number | null;
  frequency: string | null;
  schedule_cron: string;
  timezone: string;
  auto_start: boolean;
  max_consecutive_failures: number;
  deployed_at: string;
  deployed_by: string;
  graph_versions: number[];
  ended_at: string | null;
  final_summary: DeploymentSummary | null;
}

export interface GraphVersion {
  graph_version: number;
  created_at: string;
  created_by: string;
  summary: string;
  restored_from: number | null;
  current: boolean;
}

export interface StrategyEvent {
  event_id: string;
  type: string;
  at: string;
  actor: string;
  from_status: string | null;
  to_status: string | null;
  reason: string | null;
  graph_version: number | null;
  deployment_id: string | null;
  execution_id: string | null;
}

export interface Watchlist {
  watchlist_id: string;
  name: string;
  description: string | null;
  items_count: number;
  created_at: string;
  updated_at: string;
}

// DESIGN 12-13: the account view, the comparison, risk limits and the kill switch (issue 14)
export interface ExposureLine {
  key: string;
  label: string | null;
  exposure_usd: number;
}

export interface StrategyShare {
  strategy_id: string;
  strategy_name: string;
  bankroll_usd: number;
  equity_usd: number;
  total_pnl_usd: number;
  share: number;
}

export interface ModePortfolio {
  strategies_count: number;
  bankroll_usd: number;
  equity_usd: number;
  cash_usd: number;
  realized_pnl_usd: number;
  unrealized_pnl_usd: number;
  total_pnl_usd: number;
  open_positions_count: number;
  exposure: { total_usd: number; by_market: ExposureLine[]; by_event: ExposureLine[]; by_tag: ExposureLine[] };
  strategies: StrategyShare[];
}

export interface AccountPortfolio {
  paper: ModePortfolio;
  live: ModePortfolio;
  updated_at: string | null;
}

export interface ComparedStrategy {
  strategy_id: string;
  strategy_name: string;
  bankroll_usd: number;
  metrics: Record<string, number | null>;
  normalized_curve: { at: string; value: number }[];
}

export interface RiskLimits {
  max_total_exposure_usd: number | null;
  max_market_exposure_usd: number | null;
  max_event_exposure_usd: number | null;
  daily_loss_stop_usd: number | null;
  max_drawdown_pct: number | null;
  timezone: string;
}

export interface KillSwitch {
  mode: "halt" | "exits_only";
  since: string;
  reason: string;
  paused_strategy_ids: string[];
}

export interface RiskSettings {
  limits: RiskLimits;
  updated_at: string | null;
  kill_switch: KillSwitch | null;
}

// DESIGN 9: backtests (issue 15)
export interface BacktestWarning {
  code: string;
  message: string;
  node_id?: string | null;
  field?: string | null;
}

export interface Backtest {
  backtest_id: string;
  strategy_id: string | null;
  graph_version: number | null;
  status: "queued" | "running" | "completed" | "failed" | "cancelled";
  progress: number;
  slots_total: number;
  slots_done: number;
  start: string;
  end: string;
  frequency: string | null;
  schedule_cron: string | null;
  timezone: string;
  paper_bankroll_usd: number;
  allow_proxies: boolean;
  warnings: BacktestWarning[];
  performance: Performance | null;
  trades_count: number | null;
  history_requests: number;
  error_code: string | null;
  error_message: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}
