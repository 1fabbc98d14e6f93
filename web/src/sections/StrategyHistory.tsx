// Deployments, graph versions (with restore) and the activity timeline: issue 13's routes.
import { useState } from "react";
import { api, ApiError, type Page } from "../api";
import { Dialog, ErrorNote, NotAvailable, Section, Time } from "../components/common";
import { useLoad } from "../hooks";
import type { Strategy } from "../types";
import { KeyValues, pick, Value, type Json } from "./generic";

function Unavailable({ error, what }: { error: Error | null; what: string }) {
  if (error instanceof ApiError && error.notAvailable) return <NotAvailable what={what} />;
  return <ErrorNote error={error} />;
}

export function Deployments({ strategyId }: { strategyId: string }) {
  const { data, error } = useLoad(() => api<Page<Json>>("GET", `/strategies/${strategyId}/deployments?limit=20`), [strategyId]);
  return (
    <Section title="Deployments">
      <Unavailable error={error} what="Deployment records" />
      {data && !data.items.length ? <p className="muted">Not deployed yet.</p> : null}
      <ol className="plain">
        {data?.items.map((d) => (
          <li key={String(pick(d, "deployment_id"))} className="record">
            <p>
              <strong>{pick<string>(d, "frequency", "schedule_cron") ?? "–"}</strong> · {String(pick(d, "trading_mode") ?? "paper")} ·{" "}
              <Value name="paper_bankroll_usd" value={pick(d, "paper_bankroll_usd")} /> · deployed <Time iso={pick<string>(d, "deployed_at")} />
              {pick(d, "ended_at") ? (
                <>
                  {" "}
                  · ended <Time iso={pick<string>(d, "ended_at")} />
                </>
              ) : (
                " · live"
              )}
            </p>
            {pick<Json>(d, "final_summary") ? <KeyValues item={pick<Json>(d, "final_summary") as Json} /> : null}
            {Array.isArray(pick(d, "graph_versions")) ? <p className="muted">Graph versions: {(pick<number[]>(d, "graph_versions") ?? []).join(", ")}</p> : null}
          </li>
        ))}
      </ol>
    </Section>
  );
}

export function Versions({ strategy, onRestored }: { strategy: Strategy; onRestored: () => void }) {
  const sid = strategy.strategy_id;
  const { data, error, reload } = useLoad(() => api<Page<Json>>("GET", `/strategies/${sid}/versions?limit=50`), [sid, strategy.graph_version]);
  const [restoring, setRestoring] = useState<number | null>(null);
  const [restoreError, setRestoreError] = useState<Error | null>(null);
  const restore = async () => {
    if (restoring === null) return;
    try {
      await api("POST", `/strategies/${sid}/versions/${restoring}/restore`, undefined, {
        "if-match": String(strategy.version),
        "idempotency-key": crypto.randomUUID(),
      });
      setRestoreError(null);
      onRestored();
      reload();
    } catch (err) {
      setRestoreError(err as Error);
    } finally {
      setRestoring(null);
    }
  };
  return (
    <Section title="Graph versions">
      <Unavailable error={error} what="Graph versions" />
      <ErrorNote error={restoreError} />
      <ol className="plain">
        {data?.items.map((v) => {
          const n = Number(pick(v, "version", "number", "graph_version"));
          const current = !!pick(v, "current", "is_current") || n === strategy.graph_version;
          return (
            <li key={n} className="record">
              <strong>Version {n}</strong>
              {current ? " (current)" : ""} · <Time iso={pick<string>(v, "created_at")} /> · {String(pick(v, "created_by") ?? "")}
              {pick(v, "summary") !== undefined ? <span className="muted"> · {typeof pick(v, "summary") === "string" ? String(pick(v, "summary")) : JSON.stringify(pick(v, "summary"))}</span> : null}{" "}
              {!current ? (
                <button type="button" onClick={() => setRestoring(n)}>
                  Restore version {n}
                </button>
              ) : null}
            </li>
          );
        })}
      </ol>
      <Dialog open={restoring !== null} title={`Restore version ${restoring ?? ""}?`} onClose={() => setRestoring(null)}>
        <p>The graph of version {restoring} becomes a new current version; a running strategy uses it from its next slot.</p>
        <div className="actions">
          <button type="button" className="primary" onClick={restore}>
            Confirm
          </button>
          <button type="button" onClick={() => setRestoring(null)}>
            Cancel
          </button>
        </div>
      </Dialog>
    </Section>
  );
}

export function Timeline({ strategyId }: { strategyId: string }) {
  const { data, error } = useLoad(() => api<Page<Json>>("GET", `/strategies/${strategyId}/events?limit=30`), [strategyId]);
  return (
    <Section title="Activity">
      <Unavailable error={error} what="The activity timeline" />
      <ol className="plain timeline">
        {data?.items.map((e, i) => (
          <li key={String(pick(e, "event_id") ?? i)}>
            <Time iso={pick<string>(e, "at", "created_at", "occurred_at")} /> · <strong>{String(pick(e, "type", "event", "action") ?? "event")}</strong>
            {pick(e, "from") || pick(e, "to") ? ` · ${String(pick(e, "from") ?? "")} → ${String(pick(e, "to") ?? "")}` : ""}
            {pick(e, "reason") ? ` · ${String(pick(e, "reason"))}` : ""}
            {pick(e, "actor", "by", "who") ? <span className="muted"> · by {String(pick(e, "actor", "by", "who"))}</span> : null}
          </li>
        ))}
      </ol>
    </Section>
  );
}

/** The watchlists the strategy's graph names (DATA_SOURCE with source watchlist, WATCHLIST sinks). */
export function Watchlists({ strategy }: { strategy: Strategy }) {
  const graph = strategy.node_graph as { nodes?: { id: string; type: string; config?: Json }[] } | null;
  const uses = (graph?.nodes ?? [])
    .filter((n) => typeof n.config?.watchlist_id === "string")
    .map((n) => ({ node: n.id, id: String(n.config?.watchlist_id), writes: n.type === "WATCHLIST" }));
  const ids = Array.from(new Set(uses.map((u) => u.id)));
  const { data, error } = useLoad(
    () => Promise.all(ids.map((id) => api<Json>("GET", `/watchlists/${encodeURIComponent(id)}`))),
    [ids.join(",")],
  );
  if (!uses.length) return null;
  return (
    <Section title="Watchlists">
      <Unavailable error={error} what="Watchlists" />
      <ul className="plain">
        {uses.map((u) => {
          const list = data?.find((w) => pick(w, "watchlist_id", "id") === u.id);
          return (
            <li key={`${u.node}-${u.id}`}>
              Node <code>{u.node}</code> {u.writes ? "writes to" : "reads"} <strong>{String(pick(list, "name") ?? u.id)}</strong>
              {list && pick(list, "items_count", "item_count") !== undefined ? ` (${String(pick(list, "items_count", "item_count"))} items)` : ""}
            </li>
          );
        })}
      </ul>
    </Section>
  );
}
