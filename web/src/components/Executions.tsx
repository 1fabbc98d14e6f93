// Execution history, paged and filtered by status; a run expands to its per-node trace, fetched from the
// single-execution route (issue 11). A server without it: the trace a list item still carries, if any.
import { useState } from "react";
import { api, ApiError, query, type Page } from "../api";
import { useLoad } from "../hooks";
import type { Execution, NodeTrace } from "../types";
import { ErrorNote, NotAvailable, Pager, Time } from "./common";

const STATUSES = ["", "completed", "failed", "timeout", "skipped"];

export function Executions({ strategyId }: { strategyId: string }) {
  const [status, setStatus] = useState("");
  const [tokens, setTokens] = useState<(string | null)[]>([null]);
  const current = tokens[tokens.length - 1];
  const { data, error } = useLoad(
    () => api<Page<Execution>>("GET", `/strategies/${strategyId}/executions${query({ limit: 10, status, next_token: current })}`),
    [strategyId, status, current],
  );
  return (
    <div>
      <label>
        Status{" "}
        <select
          value={status}
          onChange={(e) => {
            setStatus(e.target.value);
            setTokens([null]);
          }}
        >
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s || "All"}
            </option>
          ))}
        </select>
      </label>
      <ErrorNote error={error} />
      {data && data.items.length === 0 ? <p className="muted">No runs{status ? ` with status ${status}` : ""}.</p> : null}
      <ul className="runs">
        {data?.items.map((run) => <Run key={run.execution_id} strategyId={strategyId} run={run} />)}
      </ul>
      <Pager
        label="Execution pages"
        hasPrevious={tokens.length > 1}
        hasNext={!!data?.next_token}
        onPrevious={() => setTokens(tokens.slice(0, -1))}
        onNext={() => data?.next_token && setTokens([...tokens, data.next_token])}
      />
    </div>
  );
}

function Run({ strategyId, run }: { strategyId: string; run: Execution }) {
  const [open, setOpen] = useState(false);
  const [detail, setDetail] = useState<Execution | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const toggle = () => {
    const next = !open;
    setOpen(next);
    if (next && !detail) {
      api<Execution>("GET", `/strategies/${strategyId}/executions/${encodeURIComponent(run.execution_id)}`)
        .then(setDetail)
        .catch((err: Error) => {
          if (err instanceof ApiError && err.notAvailable && run.trace) setDetail(run);
          else setError(err);
        });
    }
  };
  const id = `run-${run.execution_id}`;
  return (
    <li className={`run run-${run.status}`}>
      <button type="button" className="run-head" aria-expanded={open} aria-controls={id} onClick={toggle}>
        <span className={`pill ${run.status}`}>{run.status}</span> <Time iso={run.scheduled_for} /> · {run.trigger} ·{" "}
        {run.trades_created} trade(s) · {run.execution_time_ms} ms
        {run.error_code ? <span className="muted"> · {run.error_code}</span> : null}
      </button>
      {open ? (
        <div id={id} className="trace">
          {run.error_message ? <p className="error">{run.error_message}</p> : null}
          {run.missed_slots ? <p>{run.missed_slots} missed slot(s) recorded.</p> : null}
          {error instanceof ApiError && error.notAvailable ? <NotAvailable what="The run's trace" /> : <ErrorNote error={error} />}
          {detail ? <Trace trace={detail.trace ?? []} truncated={!!detail.truncated} /> : !error ? <p aria-live="polite">Loading trace…</p> : null}
        </div>
      ) : null}
    </li>
  );
}

function Trace({ trace, truncated }: { trace: NodeTrace[]; truncated: boolean }) {
  if (!trace.length) return <p className="muted">No per-node trace for this run.</p>;
  return (
    <div className="trace-nodes">
      <table className="grid">
        <caption>Per-node trace{truncated ? " (cut to stay small)" : ""}</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Type</th>
            <th scope="col" className="num">Received</th>
            <th scope="col" className="num">Kept</th>
            <th scope="col" className="num">ms</th>
            <th scope="col">Decisions</th>
          </tr>
        </thead>
        <tbody>
          {trace.map((node) => (
            <tr key={node.node_id}>
              <td data-label="Node">
                <code>{node.node_id}</code>
              </td>
              <td data-label="Type">{node.type}</td>
              <td data-label="Received" className="num">
                {node.received}
              </td>
              <td data-label="Kept" className="num">
                {node.kept}
              </td>
              <td data-label="ms" className="num">
                {node.duration_ms}
              </td>
              <td data-label="Decisions">
                {node.error ? <p className="error">{node.error}</p> : null}
                {node.decisions.length ? (
                  <details>
                    <summary>{node.decisions.length} decision(s)</summary>
                    <ul className="decisions">
                      {node.decisions.map((d, i) => (
                        <li key={i}>
                          <code>{JSON.stringify(d)}</code>
                        </li>
                      ))}
                    </ul>
                  </details>
                ) : (
                  <span className="muted">–</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
