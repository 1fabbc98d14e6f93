// Deployments, graph versions (with restore), the activity timeline and the watchlists a graph uses: issue 13's
// routes, read with DESIGN 2's shapes (docs/openapi.json: DeploymentOut, GraphVersionSummaryOut,
// StrategyEventOut, WatchlistOut).
import { useState } from "react";
import { api, ApiError, type Page } from "../api";
import { Dialog, ErrorNote, Money, NotAvailable, Section, Time } from "../components/common";
import { useLoad } from "../hooks";
import { Figures } from "../metrics";
import type { Deployment, GraphVersion, Strategy, StrategyEvent, Watchlist } from "../types";

export function Unavailable({ error, what }: { error: Error | null; what: string }) {
  if (error instanceof ApiError && error.notAvailable) return <NotAvailable what={what} />;
  return <ErrorNote error={error} />;
}

const SUMMARY_FIGURES = ["equity_usd", "total_pnl_usd", "roi_pct", "trades", "win_rate"] as const;

export function Deployments({ strategyId }: { strategyId: string }) {
  const { data, error } = useLoad(() => api<Page<Deployment>>("GET", `/strategies/${strategyId}/deployments?limit=20`), [strategyId]);
  return (
    <Section title="Deployments">
      <Unavailable error={error} what="Deployment records" />
      {data && !data.items.length ? <p className="muted">Not deployed yet.</p> : null}
      <ol className="plain deployments">
        {data?.items.map((d) => (
          <li key={d.deployment_id} className="record">
            <p>
              <strong>{d.frequency ? `every ${d.frequency}` : <code>{d.schedule_cron}</code>}</strong> ({d.timezone}) · {d.trading_mode} ·{" "}
              {d.paper_bankroll_usd !== null ? <Money value={d.paper_bankroll_usd} /> : "alert strategy"} · deployed <Time iso={d.deployed_at} /> by{" "}
              {d.deployed_by}
              {d.ended_at ? (
                <>
                  {" "}
                  · ended <Time iso={d.ended_at} />
                </>
              ) : (
                " · current"
              )}
            </p>
            <p className="muted">Graph versions: {d.graph_versions.join(", ")}</p>
            {d.final_summary ? <Figures item={d.final_summary} names={SUMMARY_FIGURES} label="Final figures" /> : null}
          </li>
        ))}
      </ol>
    </Section>
  );
}

export function Versions({ strategy, onRestored }: { strategy: Strategy; onRestored: () => void }) {
  const sid = strategy.strategy_id;
  const { data, error, reload } = useLoad(
    () => api<Page<GraphVersion>>("GET", `/strategies/${sid}/versions?limit=50`),
    [sid, strategy.graph_version],
  );
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
      <ol className="plain versions">
        {data?.items.map((v) => (
          <li key={v.graph_version} className="record">
            <strong>Version {v.graph_version}</strong>
            {v.current ? " (current)" : ""} · <Time iso={v.created_at} /> · {v.created_by}
            {v.restored_from !== null ? ` · restored from version ${v.restored_from}` : ""}
            <span className="muted"> · {v.summary}</span>{" "}
            {!v.current ? (
              <button type="button" onClick={() => setRestoring(v.graph_version)}>
                Restore version {v.graph_version}
              </button>
            ) : null}
          </li>
        ))}
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

const EVENT_WORDS: Record<string, string> = {
  created: "Created",
  graph_changed: "Graph changed",
  deployed: "Deployed",
  started: "Started",
  paused: "Paused",
  resumed: "Resumed",
  stopped: "Stopped",
  run_now: "Run now",
  auto_paused: "Paused automatically",
  restored: "Version restored",
};

export function Timeline({ strategyId }: { strategyId: string }) {
  const { data, error } = useLoad(() => api<Page<StrategyEvent>>("GET", `/strategies/${strategyId}/events?limit=30`), [strategyId]);
  return (
    <Section title="Activity">
      <Unavailable error={error} what="The activity timeline" />
      <ol className="plain timeline">
        {data?.items.map((e) => (
          <li key={e.event_id}>
            <Time iso={e.at} /> · <strong>{EVENT_WORDS[e.type] ?? e.type}</strong>
            {e.from_status !== e.to_status && (e.from_status || e.to_status) ? ` · ${e.from_status ?? "–"} → ${e.to_status ?? "–"}` : ""}
            {e.reason ? ` · ${e.reason}` : ""}
            {e.graph_version !== null ? ` · graph version ${e.graph_version}` : ""}
            <span className="muted"> · by {e.actor}</span>
          </li>
        ))}
      </ol>
    </Section>
  );
}

/** The watchlists the strategy's graph names: DATA_SOURCE `source: watchlist` reads one, a WATCHLIST node writes. */
export function Watchlists({ strategy }: { strategy: Strategy }) {
  const graph = strategy.node_graph as { nodes?: { id: string; type: string; config?: { watchlist_id?: unknown } }[] } | null;
  const uses = (graph?.nodes ?? [])
    .filter((n) => typeof n.config?.watchlist_id === "string")
    .map((n) => ({ node: n.id, id: String(n.config?.watchlist_id), writes: n.type === "WATCHLIST" }));
  const ids = Array.from(new Set(uses.map((u) => u.id)));
  const { data, error } = useLoad(
    () => Promise.all(ids.map((id) => api<Watchlist>("GET", `/watchlists/${encodeURIComponent(id)}`))),
    [ids.join(",")],
  );
  if (!uses.length) return null;
  return (
    <Section title="Watchlists">
      <Unavailable error={error} what="Watchlists" />
      <ul className="plain watchlists">
        {uses.map((u) => {
          const list = data?.find((w) => w.watchlist_id === u.id);
          return (
            <li key={`${u.node}-${u.id}`}>
              Node <code>{u.node}</code> {u.writes ? "writes to" : "reads"} <strong>{list?.name ?? u.id}</strong>
              {list ? ` (${list.items_count} ${list.items_count === 1 ? "item" : "items"})` : ""}
              {list?.description ? <span className="muted"> · {list.description}</span> : null}
            </li>
          );
        })}
      </ul>
    </Section>
  );
}
