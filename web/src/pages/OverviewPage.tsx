// The account view (issue 14, DESIGN 12-13): GET /portfolio, the risk limits and kill switch of GET
// /risk-limits, and the comparison of chosen strategies (docs/openapi.json: AccountPortfolioOut,
// RiskSettingsOut, CompareOut).
import { useMemo, useState } from "react";
import { api, ApiError, query, type Page } from "../api";
import { Dialog, ErrorNote, NotAvailable, Section, Time } from "../components/common";
import { LinesChart, type Line } from "../components/LinesChart";
import { pct } from "../format";
import { useLoad } from "../hooks";
import { Figures, METRICS, MetricValue, type MetricName } from "../metrics";
import { Link } from "../router";
import type { AccountPortfolio, ComparedStrategy, ExposureLine, KillSwitch as KillSwitchState, ModePortfolio, RiskSettings, Strategy } from "../types";

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

const MODE_FIGURES = [
  "equity_usd",
  "total_pnl_usd",
  "realized_pnl_usd",
  "unrealized_pnl_usd",
  "cash_usd",
  "bankroll_usd",
  "open_positions_count",
  "strategies_count",
] as const;

function Exposure({ title, lines }: { title: string; lines: ExposureLine[] }) {
  if (!lines.length) return null;
  return (
    <table className="grid exposure">
      <caption>{title}</caption>
      <tbody>
        {lines.slice(0, 20).map((line) => (
          <tr key={line.key}>
            <th scope="row">{line.label ?? line.key}</th>
            <td className="num">
              <MetricValue name="exposure_usd" value={line.exposure_usd} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ModeView({ mode, view }: { mode: string; view: ModePortfolio }) {
  return (
    <div>
      <h3>{mode}</h3>
      <Figures item={view} names={MODE_FIGURES} label={`Account figures (${mode})`} />
      <p>
        {METRICS.total_usd.label}: <MetricValue name="total_usd" value={view.exposure.total_usd} />
      </p>
      <div className="columns">
        <Exposure title="Exposure by market" lines={view.exposure.by_market} />
        <Exposure title="Exposure by event" lines={view.exposure.by_event} />
        <Exposure title="Exposure by tag" lines={view.exposure.by_tag} />
      </div>
      {view.strategies.length ? (
        <table className="grid shares">
          <caption>Strategies</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" className="num">{METRICS.equity_usd.label}</th>
              <th scope="col" className="num">{METRICS.total_pnl_usd.label}</th>
              <th scope="col" className="num">{METRICS.share.label}</th>
            </tr>
          </thead>
          <tbody>
            {view.strategies.map((s) => (
              <tr key={s.strategy_id}>
                <td data-label="Name">
                  <Link href={`/app/strategies/${s.strategy_id}`}>{s.strategy_name}</Link>
                </td>
                <td data-label={METRICS.equity_usd.label} className="num">
                  <MetricValue name="equity_usd" value={s.equity_usd} />
                </td>
                <td data-label={METRICS.total_pnl_usd.label} className="num">
                  <MetricValue name="total_pnl_usd" value={s.total_pnl_usd} />
                </td>
                <td data-label={METRICS.share.label} className="num">
                  <MetricValue name="share" value={s.share} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

function Account() {
  const { data, error } = useLoad(() => api<AccountPortfolio>("GET", "/portfolio"), []);
  return (
    <Section title="Account">
      <Unavailable error={error} what="The account view" />
      {data ? (
        <>
          <ModeView mode="paper" view={data.paper} />
          {data.live.strategies_count ? <ModeView mode="live" view={data.live} /> : null}
          <p className="muted">
            Updated <Time iso={data.updated_at} />
          </p>
        </>
      ) : null}
    </Section>
  );
}

const LIMIT_FIGURES = [
  "max_total_exposure_usd",
  "max_market_exposure_usd",
  "max_event_exposure_usd",
  "daily_loss_stop_usd",
  "max_drawdown_pct",
  "timezone",
] as const;

const MODE_WORDS: Record<KillSwitchState["mode"], string> = { halt: "halt", exits_only: "exits only" };

function KillSwitch() {
  const settings = useLoad(() => api<RiskSettings>("GET", "/risk-limits"), []);
  const [pending, setPending] = useState<"halt" | "exits_only" | "release" | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const state = settings.data?.kill_switch ?? null;
  const confirm = async () => {
    const action = pending;
    setPending(null);
    try {
      if (action === "release") await api("DELETE", "/kill-switch");
      else await api("POST", "/kill-switch", { mode: action });
      setError(null);
    } catch (err) {
      setError(err as Error);
    }
    settings.reload();
  };
  const missing = settings.error instanceof ApiError && settings.error.notAvailable;
  const known = !!settings.data;
  return (
    <>
      <Section title="Kill switch">
        {missing ? <p className="muted">Its state: not available on this server.</p> : <ErrorNote error={settings.error} />}
        {known ? (
          state ? (
            <p className="status loud kill-state">
              ON ({MODE_WORDS[state.mode]}) since <Time iso={state.since} /> · {state.reason === "user" ? "set by you" : state.reason} ·{" "}
              {state.paused_strategy_ids.length} {state.paused_strategy_ids.length === 1 ? "strategy" : "strategies"} paused by it
            </p>
          ) : (
            <p className="kill-state">Off</p>
          )
        ) : null}
        <div className="actions">
          <button type="button" className="danger" disabled={known && !!state} onClick={() => setPending("halt")}>
            Halt everything
          </button>
          <button type="button" disabled={known && !!state} onClick={() => setPending("exits_only")}>
            Exits only
          </button>
          <button type="button" disabled={known && !state} onClick={() => setPending("release")}>
            Release
          </button>
        </div>
        <Unavailable error={error} what="The kill switch" />
        <Dialog
          open={pending !== null}
          title={pending === "release" ? "Release the kill switch?" : `Kill switch: ${pending === "halt" ? "halt every strategy" : "exits only"}?`}
          onClose={() => setPending(null)}
        >
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
      {settings.data ? (
        <Section title="Risk limits">
          <Figures item={settings.data.limits} names={LIMIT_FIGURES} label="Risk limits" />
          <p className="muted">A limit shown as – is not set. {settings.data.updated_at ? <>Set <Time iso={settings.data.updated_at} />.</> : null}</p>
        </Section>
      ) : null}
    </>
  );
}

// DESIGN 12: the metrics GET /strategies/compare answers for each strategy, in its order
const COMPARED: readonly MetricName[] = [
  "equity_usd",
  "total_profit_usd",
  "total_profit_pct",
  "closed_trades_count",
  "win_rate",
  "profit_factor",
  "expectancy_usd",
  "max_drawdown_usd",
  "max_drawdown_relative",
  "max_relative_drawdown",
  "sharpe",
  "sortino",
  "calmar",
  "cagr",
  "sqn",
  "fees_paid_usd",
];

const growth = (v: number) => pct((v - 1) * 100);

function Compare() {
  const strategies = useLoad(() => api<Page<Strategy>>("GET", `/strategies${query({ limit: 100 })}`), [], false);
  const [chosen, setChosen] = useState<string[]>([]);
  const ids = chosen.join(",");
  const compared = useLoad(
    () => (chosen.length >= 2 ? api<{ items: ComparedStrategy[] }>("GET", `/strategies/compare${query({ ids })}`) : Promise.resolve(null)),
    [ids],
  );
  const rows = compared.data?.items;
  const lines: Line[] = useMemo(
    () =>
      (rows ?? []).map((r) => ({
        label: r.strategy_name,
        points: r.normalized_curve.map((p) => ({ t: Date.parse(p.at) / 1000, v: p.value })),
      })),
    [rows],
  );
  const toggle = (id: string) => setChosen(chosen.includes(id) ? chosen.filter((c) => c !== id) : chosen.length < 10 ? [...chosen, id] : chosen);
  // a DRAFT has no performance to compare (409): only deployed strategies are offered
  const offered = strategies.data?.items.filter((s) => s.status !== "DRAFT" && s.paper_bankroll_usd !== null) ?? [];
  return (
    <Section title="Compare strategies">
      <ErrorNote error={strategies.error} />
      <fieldset className="choices">
        <legend>Pick 2 to 10</legend>
        {offered.map((s) => (
          <label key={s.strategy_id} className="inline">
            <input type="checkbox" checked={chosen.includes(s.strategy_id)} onChange={() => toggle(s.strategy_id)} /> {s.strategy_name}
          </label>
        ))}
      </fieldset>
      <Unavailable error={compared.error} what="Comparison" />
      {lines.length ? <LinesChart lines={lines} label="Equity compared" format={growth} /> : null}
      {rows?.length ? (
        <table className="grid compared">
          <caption>Figures compared</caption>
          <thead>
            <tr>
              <th scope="col">Figure</th>
              {rows.map((r) => (
                <th key={r.strategy_id} scope="col" className="num">
                  {r.strategy_name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {COMPARED.filter((name) => rows.some((r) => name in r.metrics)).map((name) => (
              <tr key={name}>
                <th scope="row">{METRICS[name].label}</th>
                {rows.map((r) => (
                  <td key={r.strategy_id} data-label={r.strategy_name} className="num">
                    <MetricValue name={name} value={r.metrics[name]} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}
