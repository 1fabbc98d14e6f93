// The account view (issue 14): GET /portfolio, the kill switch, and the comparison of chosen strategies.
import { useMemo, useState } from "react";
import { api, ApiError, query, type Page } from "../api";
import { Dialog, ErrorNote, NotAvailable, Section } from "../components/common";
import { LinesChart, type Line } from "../components/LinesChart";
import { pct } from "../format";
import { useLoad } from "../hooks";
import { KeyValues, pick, Value, type Json } from "../sections/generic";
import type { Strategy } from "../types";

function Unavailable({ error, what }: { error: Error | null; what: string }) {
  if (error instanceof ApiError && error.notAvailable) return <NotAvailable what={what} />;
  return <ErrorNote error={error} />;
}

export function OverviewPage() {
  return (
    <main>
      <h1>Overview</h1>
      <Account />
      <KillSwitch />
      <Compare />
    </main>
  );
}

function Exposure({ title, value }: { title: string; value: unknown }) {
  const rows: [string, unknown][] = Array.isArray(value)
    ? (value as Json[]).map((r) => [String(pick(r, "question", "title", "event_slug", "market_id", "tag", "key") ?? ""), pick(r, "exposure_usd", "cost_usd", "value_usd")])
    : value && typeof value === "object"
      ? Object.entries(value as Json)
      : [];
  if (!rows.length) return null;
  return (
    <table className="grid">
      <caption>{title}</caption>
      <tbody>
        {rows.slice(0, 20).map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td className="num">
              <Value name="exposure_usd" value={typeof v === "object" && v ? pick(v as Json, "exposure_usd", "cost_usd", "value_usd") : v} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Account() {
  const { data, error } = useLoad(() => api<Json>("GET", "/portfolio"), []);
  const modes: [string, Json][] = data
    ? ["paper", "live"].filter((m) => data[m] && typeof data[m] === "object").map((m) => [m, data[m] as Json])
    : [];
  if (data && !modes.length) modes.push(["account", data]);
  return (
    <Section title="Account">
      <Unavailable error={error} what="The account view" />
      {modes.map(([mode, view]) => {
        const exposure = (pick<Json>(view, "exposure") ?? {}) as Json;
        return (
          <div key={mode}>
            <h3>{mode}</h3>
            <KeyValues item={view} only={["equity_usd", "cash_usd", "realized_pnl_usd", "unrealized_pnl_usd", "total_pnl_usd"].filter((k) => k in view)} />
            <div className="columns">
              <Exposure title="Exposure by market" value={pick(exposure, "by_market", "market", "markets")} />
              <Exposure title="Exposure by event" value={pick(exposure, "by_event", "event", "events")} />
              <Exposure title="Exposure by tag" value={pick(exposure, "by_tag", "tag", "tags")} />
            </div>
          </div>
        );
      })}
    </Section>
  );
}

function KillSwitch() {
  // the kill switch's state is part of GET /risk-limits (`kill_switch`: null when off)
  const settings = useLoad(() => api<Json>("GET", "/risk-limits"), []);
  const state = {
    data: settings.data ? ((settings.data.kill_switch as Json | null) ?? {}) : null,
    error: settings.error,
    reload: settings.reload,
  };
  const [pending, setPending] = useState<"halt" | "exits_only" | "release" | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const active = pick<string>(state.data, "mode");
  const on = state.data ? !!active : false;
  const confirm = async () => {
    const action = pending;
    setPending(null);
    try {
      if (action === "release") await api("DELETE", "/kill-switch");
      else await api("POST", "/kill-switch", { mode: action }, { "idempotency-key": crypto.randomUUID() });
      setError(null);
    } catch (err) {
      setError(err as Error);
    }
    state.reload();
  };
  const missing = state.error instanceof ApiError && state.error.notAvailable;
  return (
    <Section title="Kill switch">
      {missing ? <p className="muted">Its state: not available on this server.</p> : <ErrorNote error={state.error} />}
      {state.data ? <p className={on ? "status loud" : ""}>{on ? `ON (${active ?? "halt"})` : "Off"}</p> : null}
      <div className="actions">
        <button type="button" className="danger" onClick={() => setPending("halt")}>
          Halt everything
        </button>
        <button type="button" onClick={() => setPending("exits_only")}>
          Exits only
        </button>
        <button type="button" onClick={() => setPending("release")}>
          Release
        </button>
      </div>
      <Unavailable error={error} what="The kill switch" />
      <Dialog open={pending !== null} title={pending === "release" ? "Release the kill switch?" : `Kill switch: ${pending === "halt" ? "halt every strategy" : "exits only"}?`} onClose={() => setPending(null)}>
        <p>
          {pending === "halt"
            ? "Every strategy of yours pauses (reason: kill switch) until you release it."
            : pending === "exits_only"
              ? "Strategies may close positions but open none."
              : "The strategies it paused resume; others stay as they are."}
        </p>
        <div className="actions">
          <button type="button" className="primary" onClick={confirm}>
            Confirm
          </button>
          <button type="button" onClick={() => setPending(null)}>
            Cancel
          </button>
        </div>
      </Dialog>
    </Section>
  );
}

function Compare() {
  const strategies = useLoad(() => api<Page<Strategy>>("GET", `/strategies${query({ limit: 100 })}`), [], false);
  const [chosen, setChosen] = useState<string[]>([]);
  const ids = chosen.join(",");
  const compared = useLoad(
    () => (chosen.length >= 2 ? api<Json>("GET", `/strategies/compare${query({ ids })}`) : Promise.resolve(null)),
    [ids],
  );
  const rows = (pick<Json[]>(compared.data, "strategies", "items") ?? []) as Json[];
  const lines: Line[] = useMemo(
    () =>
      rows.map((r) => ({
        label: String(pick(r, "strategy_name") ?? pick(r, "strategy_id")),
        points: ((pick<Json[]>(r, "equity_curve", "normalized_curve", "curve") ?? []) as Json[]).map((p) => ({
          t: Date.parse(String(pick(p, "at"))) / 1000,
          v: Number(pick(p, "normalized", "value", "equity_normalized", "equity_usd")),
        })),
      })),
    [rows],
  );
  const toggle = (id: string) => setChosen(chosen.includes(id) ? chosen.filter((c) => c !== id) : chosen.length < 10 ? [...chosen, id] : chosen);
  return (
    <Section title="Compare strategies">
      <ErrorNote error={strategies.error} />
      <fieldset className="choices">
        <legend>Pick 2 to 10</legend>
        {strategies.data?.items.map((s) => (
          <label key={s.strategy_id} className="inline">
            <input type="checkbox" checked={chosen.includes(s.strategy_id)} onChange={() => toggle(s.strategy_id)} /> {s.strategy_name}
          </label>
        ))}
      </fieldset>
      <Unavailable error={compared.error} what="Comparison" />
      {lines.length ? <LinesChart lines={lines} label="Equity compared" format={(v) => (Math.abs(v) < 10 ? pct((v - 1) * 100) : v.toFixed(2))} /> : null}
      {rows.length ? (
        <div className="columns">
          {rows.map((r) => (
            <div key={String(pick(r, "strategy_id"))}>
              <h3>{String(pick(r, "strategy_name") ?? pick(r, "strategy_id"))}</h3>
              <KeyValues item={(pick<Json>(r, "metrics") ?? r) as Json} />
            </div>
          ))}
        </div>
      ) : null}
    </Section>
  );
}
