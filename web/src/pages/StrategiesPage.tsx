import { useState } from "react";
import { api, query, type Page } from "../api";
import { Dialog, ErrorNote, Money, Sparkline, Time } from "../components/common";
import { pauseReasonText, pct } from "../format";
import { useLoad } from "../hooks";
import { rememberDeployed } from "../known";
import { METRICS } from "../metrics";
import { Link, navigate } from "../router";
import type { Strategy } from "../types";

const STATUSES = ["", "DRAFT", "DEPLOYED", "RUNNING", "PAUSED", "STOPPED"] as const;

async function allStrategies(): Promise<Strategy[]> {
  const out: Strategy[] = [];
  let token: string | null = null;
  do {
    const page: Page<Strategy> = await api("GET", `/strategies${query({ limit: 100, next_token: token })}`);
    out.push(...page.items);
    token = page.next_token;
  } while (token && out.length < 1000);
  rememberDeployed(out);
  return out;
}

export function StatusBadge({ strategy }: { strategy: Pick<Strategy, "status" | "pause_reason"> }) {
  const reason = strategy.pause_reason;
  const loud = !!reason && reason !== "user";
  return (
    <span className={`status status-${strategy.status.toLowerCase()}${loud ? " loud" : ""}`}>
      {strategy.status}
      {reason ? <span className="reason"> ({pauseReasonText(reason)})</span> : null}
    </span>
  );
}

export function StrategiesPage() {
  const [status, setStatus] = useState("");
  const [creating, setCreating] = useState(false);
  const { data, error, loading } = useLoad(allStrategies, []);
  const rows = (data ?? []).filter((s) => !status || s.status === status);
  return (
    <main>
      <div className="page-head">
        <h1>Strategies</h1>
        <div className="actions">
          <label>
            Status{" "}
            <select value={status} onChange={(e) => setStatus(e.target.value)}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s || "All"}
                </option>
              ))}
            </select>
          </label>
          <Link href="/app/builder" className="button">
            Open the builder
          </Link>
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New strategy
          </button>
        </div>
      </div>
      <ErrorNote error={error} />
      {loading && !data ? <p aria-live="polite">Loading…</p> : null}
      {data && rows.length === 0 ? <p className="muted">No strategies{status ? ` with status ${status}` : ""} yet.</p> : null}
      {rows.length ? (
        <table className="grid strategies">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Mode</th>
              <th scope="col" className="num">{METRICS.bankroll_usd.label}</th>
              <th scope="col" className="num">{METRICS.equity_usd.label}</th>
              <th scope="col" className="num">{METRICS.total_pnl_usd.label}</th>
              <th scope="col" className="num">{METRICS.open_positions_count.label}</th>
              <th scope="col">Last run</th>
              <th scope="col">Next slot</th>
              <th scope="col">Equity trend</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => {
              const bankroll = s.paper_bankroll_usd;
              const equity = bankroll !== null ? bankroll + s.paper_pnl_usd : null;
              const pnlPct = bankroll ? (s.paper_pnl_usd / bankroll) * 100 : null;
              return (
                <tr key={s.strategy_id}>
                  <td data-label="Name">
                    <Link href={`/app/strategies/${s.strategy_id}`}>{s.strategy_name}</Link>
                  </td>
                  <td data-label="Status">
                    <StatusBadge strategy={s} />
                  </td>
                  <td data-label="Mode">{s.trading_mode}</td>
                  <td data-label={METRICS.bankroll_usd.label} className="num">
                    <Money value={bankroll} />
                  </td>
                  <td data-label={METRICS.equity_usd.label} className="num">
                    <Money value={equity} />
                  </td>
                  <td data-label={METRICS.total_pnl_usd.label} className="num">
                    <Money value={bankroll !== null ? s.paper_pnl_usd : null} signed /> <span className="muted">{pct(pnlPct)}</span>
                  </td>
                  <td data-label={METRICS.open_positions_count.label} className="num">
                    {s.paper_positions_count}
                  </td>
                  <td data-label="Last run">
                    <Time iso={s.last_executed_at} /> {s.last_execution_status ? <span className="muted">{s.last_execution_status}</span> : null}
                  </td>
                  <td data-label="Next slot">
                    <Time iso={s.next_execution_at} />
                  </td>
                  <td data-label="Equity trend">
                    <Sparkline values={s.sparkline} label={`Equity of ${s.strategy_name}`} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      <CreateStrategyDialog open={creating} onClose={() => setCreating(false)} />
    </main>
  );
}

const EXAMPLE = {
  strategy_name: "Mid-priced volume",
  strategy_description: "DESIGN 5's example",
  node_graph: {
    nodes: [
      { id: "src", type: "DATA_SOURCE", config: { source: "polymarket", active_only: true, limit: 200 } },
      {
        id: "flt",
        type: "FILTER",
        config: {
          conditions: [
            { field: "volume", op: ">=", value: 10000 },
            { field: "yes_price", op: "between", value: [0.2, 0.8] },
          ],
        },
      },
      {
        id: "orc",
        type: "ORCHESTRATOR",
        config: { outcome: "YES", position_size_usd: 100, max_positions: 5, take_profit_pct: 20, stop_loss_pct: 15 },
      },
    ],
    edges: [
      { source: "src", target: "flt" },
      { source: "flt", target: "orc" },
    ],
  },
};

function CreateStrategyDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [text, setText] = useState(() => JSON.stringify(EXAMPLE, null, 2));
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const create = async () => {
    setError(null);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      setError(new Error(`The JSON does not parse: ${(err as Error).message}`));
      return;
    }
    setBusy(true);
    try {
      const created = await api<Strategy>("POST", "/strategies", body, { "idempotency-key": crypto.randomUUID() });
      onClose();
      navigate(`/app/strategies/${created.strategy_id}`);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} title="New strategy" onClose={onClose}>
      <label className="block">
        Strategy (JSON: strategy_name, strategy_description, node_graph)
        <textarea value={text} onChange={(e) => setText(e.target.value)} rows={18} spellCheck={false} />
      </label>
      <ErrorNote error={error} />
      <div className="actions">
        <button type="button" className="primary" onClick={create} disabled={busy}>
          Create
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
