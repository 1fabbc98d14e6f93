// A strategy's backtests (issue 15, DESIGN 9): start one, follow it, and see its equity curve beside the live
// one (docs/openapi.json: BacktestOut, BacktestListOut).
import { useMemo, useState } from "react";
import { api, ApiError, type Page } from "../api";
import { ErrorNote, NotAvailable, Section, Time } from "../components/common";
import { LinesChart, type Line } from "../components/LinesChart";
import { pct, usd } from "../format";
import { useLoad } from "../hooks";
import { Figures } from "../metrics";
import type { Backtest, CurvePoint, Strategy } from "../types";

const day = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const BACKTEST_FIGURES = ["slots_done", "slots_total", "trades_count", "history_requests"] as const;
const RESULT_FIGURES = ["equity_usd", "total_profit_usd", "total_profit_pct", "win_rate", "max_drawdown_relative", "closed_trades_count"] as const;
const FINISHED = new Set(["completed", "failed", "cancelled"]);

export function Backtests({ strategy, liveCurve }: { strategy: Strategy; liveCurve: CurvePoint[] }) {
  const sid = strategy.strategy_id;
  const list = useLoad(() => api<Page<Backtest>>("GET", `/strategies/${sid}/backtests?limit=20`), [sid]);
  const [selected, setSelected] = useState<string | null>(null);
  const [start, setStart] = useState(isoDay(Date.now() - 30 * day));
  const [end, setEnd] = useState(isoDay(Date.now()));
  const [frequency, setFrequency] = useState("1h");
  const [bankroll, setBankroll] = useState(String(strategy.paper_bankroll_usd ?? 1000));
  const [proxies, setProxies] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  if (list.error instanceof ApiError && list.error.notAvailable) {
    return (
      <Section title="Backtests">
        <NotAvailable what="Backtests" />
      </Section>
    );
  }
  const run = async () => {
    setError(null);
    try {
      const answer = await api<{ backtest_id: string; status: string }>(
        "POST",
        `/strategies/${sid}/backtests`,
        { start: `${start}T00:00:00Z`, end: `${end}T00:00:00Z`, frequency, paper_bankroll_usd: bankroll, allow_proxies: proxies },
        { "idempotency-key": crypto.randomUUID() },
      );
      setSelected(answer.backtest_id);
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <Section title="Backtests">
      <form
        className="form row"
        aria-label="New backtest"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <label>
          From <input type="date" value={start} onChange={(e) => setStart(e.target.value)} />
        </label>
        <label>
          To <input type="date" value={end} onChange={(e) => setEnd(e.target.value)} />
        </label>
        <label>
          Every{" "}
          <select value={frequency} onChange={(e) => setFrequency(e.target.value)}>
            {["5m", "15m", "30m", "1h"].map((f) => (
              <option key={f}>{f}</option>
            ))}
          </select>
        </label>
        <label>
          Bankroll (USD) <input inputMode="decimal" value={bankroll} onChange={(e) => setBankroll(e.target.value)} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={proxies} onChange={(e) => setProxies(e.target.checked)} /> Use today's values for fields without history
        </label>
        <button type="submit">Run backtest</button>
      </form>
      <ErrorNote error={error ?? list.error} />
      <ul className="plain backtests">
        {list.data?.items.map((b) => (
          <li key={b.backtest_id}>
            <button type="button" className="linkish" aria-pressed={selected === b.backtest_id} onClick={() => setSelected(b.backtest_id)}>
              {b.status} · <Time iso={b.start} /> → <Time iso={b.end} /> · every {b.frequency ?? b.schedule_cron} · {pct(b.progress * 100, false)}
            </button>
          </li>
        ))}
      </ul>
      {selected ? <BacktestResult key={selected} id={selected} liveCurve={liveCurve} /> : null}
    </Section>
  );
}

function BacktestResult({ id, liveCurve }: { id: string; liveCurve: CurvePoint[] }) {
  const { data, error } = useLoad(() => api<Backtest>("GET", `/backtests/${encodeURIComponent(id)}`), [id]);
  const curve = data?.performance?.equity_curve;
  const lines: Line[] = useMemo(
    () => [
      { label: "Backtest", points: (curve ?? []).map((p) => ({ t: Date.parse(p.at) / 1000, v: p.equity_usd })) },
      { label: "Live", points: liveCurve.map((p) => ({ t: Date.parse(p.at) / 1000, v: p.equity_usd })) },
    ],
    [curve, liveCurve],
  );
  if (!data) return <ErrorNote error={error} />;
  return (
    <div className="backtest" aria-label="Backtest result">
      <ErrorNote error={error} />
      <p>
        <strong>{data.status}</strong>
        {FINISHED.has(data.status) ? null : ` · ${pct(data.progress * 100, false)} done`}
        {data.completed_at ? (
          <>
            {" "}
            · completed <Time iso={data.completed_at} />
          </>
        ) : null}
        {data.error_message ? <span className="error"> · {data.error_message}</span> : null}
      </p>
      <Figures item={data} names={BACKTEST_FIGURES} label="Backtest progress" />
      {data.performance ? <Figures item={data.performance} names={RESULT_FIGURES} label="Backtest figures" /> : null}
      {data.warnings.length ? (
        <ul className="warnings">
          {data.warnings.map((w, i) => (
            <li key={i}>
              <span className="pill warn">{w.code}</span> {w.message}
            </li>
          ))}
        </ul>
      ) : null}
      {curve?.length ? <LinesChart lines={lines} label="Backtest and live equity" format={(v) => usd(v)} /> : null}
    </div>
  );
}
