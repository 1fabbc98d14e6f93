// A strategy's backtests (issue 15): start one, follow it, and see its equity curve beside the live one.
import { useMemo, useState } from "react";
import { api, ApiError, type Page } from "../api";
import { ErrorNote, NotAvailable, Section, Time } from "../components/common";
import { LinesChart, type Line } from "../components/LinesChart";
import { usd } from "../format";
import { useLoad } from "../hooks";
import type { CurvePoint, Strategy } from "../types";
import { KeyValues, pick, type Json } from "./generic";

const day = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function Backtests({ strategy, liveCurve }: { strategy: Strategy; liveCurve: CurvePoint[] }) {
  const sid = strategy.strategy_id;
  const list = useLoad(() => api<Page<Json>>("GET", `/strategies/${sid}/backtests?limit=20`), [sid]);
  const [selected, setSelected] = useState<string | null>(null);
  const [start, setStart] = useState(isoDay(Date.now() - 30 * day));
  const [end, setEnd] = useState(isoDay(Date.now()));
  const [frequency, setFrequency] = useState("1h");
  const [bankroll, setBankroll] = useState(String(strategy.paper_bankroll_usd ?? 1000));
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
      const answer = await api<Json>(
        "POST",
        `/strategies/${sid}/backtests`,
        { start: `${start}T00:00:00Z`, end: `${end}T00:00:00Z`, frequency, paper_bankroll_usd: bankroll },
        { "idempotency-key": crypto.randomUUID() },
      );
      setSelected(String(pick(answer, "backtest_id")));
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <Section title="Backtests">
      <form
        className="form row"
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
          Bankroll <input inputMode="decimal" value={bankroll} onChange={(e) => setBankroll(e.target.value)} />
        </label>
        <button type="submit">Run backtest</button>
      </form>
      <ErrorNote error={error ?? list.error} />
      <ul className="plain">
        {list.data?.items.map((b) => {
          const id = String(pick(b, "backtest_id"));
          return (
            <li key={id}>
              <button type="button" className="linkish" aria-pressed={selected === id} onClick={() => setSelected(id)}>
                {String(pick(b, "status") ?? "")} · <Time iso={pick<string>(b, "start")} /> → <Time iso={pick<string>(b, "end")} />
                {typeof pick(b, "progress") === "number" ? ` · ${Math.round(Number(pick(b, "progress")) * 100)}%` : ""}
              </button>
            </li>
          );
        })}
      </ul>
      {selected ? <BacktestResult id={selected} liveCurve={liveCurve} /> : null}
    </Section>
  );
}

function BacktestResult({ id, liveCurve }: { id: string; liveCurve: CurvePoint[] }) {
  const { data, error } = useLoad(() => api<Json>("GET", `/backtests/${encodeURIComponent(id)}`), [id]);
  const performance = (pick<Json>(data, "performance") ?? data) as Json | null;
  const curve = (pick<CurvePoint[]>(performance, "equity_curve") ?? []) as CurvePoint[];
  const lines: Line[] = useMemo(
    () => [
      { label: "Backtest", points: curve.map((p) => ({ t: Date.parse(p.at) / 1000, v: p.equity_usd })) },
      { label: "Live", points: liveCurve.map((p) => ({ t: Date.parse(p.at) / 1000, v: p.equity_usd })) },
    ],
    [curve, liveCurve],
  );
  return (
    <div>
      <ErrorNote error={error} />
      {data ? <KeyValues item={data} only={["status", "progress", "data_fidelity"].filter((k) => k in data)} /> : null}
      {performance ? <KeyValues item={performance} only={["equity_usd", "total_profit_usd", "total_profit_pct", "win_rate", "max_drawdown_relative"].filter((k) => k in performance)} /> : null}
      {curve.length ? <LinesChart lines={lines} label="Backtest and live equity" format={(v) => usd(v)} /> : null}
    </div>
  );
}
