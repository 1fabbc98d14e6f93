// The equity curve (with the realized-equity line when the curve carries it, and trade markers) and below it,
// cursor-synced, the underwater chart: how far equity is under its running peak, filled to zero.
import { useEffect, useMemo, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { CurvePoint, Trade } from "../types";
import { usd } from "../format";
import { recordRange, timeRange } from "./timeScale";

interface Series {
  x: number[];
  equity: (number | null)[];
  realized: (number | null)[];
  markers: (number | null)[];
  drawdown: (number | null)[];
  hasRealized: boolean;
}

export function chartSeries(curve: CurvePoint[], trades: Trade[]): Series {
  const points = curve
    .map((p) => ({ t: Date.parse(p.at) / 1000, eq: p.equity_usd, re: p.realized_equity_usd ?? null }))
    .filter((p) => Number.isFinite(p.t))
    .sort((a, b) => a.t - b.t);
  const tradeTimes = trades
    .map((t) => Date.parse(t.created_at) / 1000)
    .filter((t) => Number.isFinite(t) && points.length > 0 && t >= points[0].t && t <= points[points.length - 1].t);
  const marks = new Set(tradeTimes);
  const times = Array.from(new Set([...points.map((p) => p.t), ...tradeTimes])).sort((a, b) => a - b);
  const x: number[] = [];
  const equity: (number | null)[] = [];
  const realized: (number | null)[] = [];
  const markers: (number | null)[] = [];
  const drawdown: (number | null)[] = [];
  let i = 0;
  let last: (typeof points)[number] | null = null;
  let peak = -Infinity;
  for (const t of times) {
    while (i < points.length && points[i].t <= t) last = points[i++];
    if (!last) continue;
    x.push(t);
    equity.push(last.eq);
    realized.push(last.re);
    markers.push(marks.has(t) ? last.eq : null);
    peak = Math.max(peak, last.eq);
    drawdown.push(peak > 0 ? ((last.eq - peak) / peak) * 100 : 0);
  }
  return { x, equity, realized, markers, drawdown, hasRealized: realized.some((v) => v !== null) };
}

function useWidth(ref: React.RefObject<HTMLDivElement | null>): () => number {
  return () => Math.max(240, Math.floor(ref.current?.clientWidth ?? 600));
}

export function EquityCharts({ curve, trades, onDrawn }: { curve: CurvePoint[]; trades: Trade[]; onDrawn?: () => void }) {
  const equityBox = useRef<HTMLDivElement>(null);
  const drawdownBox = useRef<HTMLDivElement>(null);
  const width = useWidth(equityBox);
  const series = useMemo(() => chartSeries(curve, trades), [curve, trades]);
  const drawn = useRef(onDrawn);
  drawn.current = onDrawn;

  useEffect(() => {
    if (!equityBox.current || !drawdownBox.current || series.x.length === 0) return undefined;
    const sync = { key: "equity-drawdown" };
    const axisValues = (_u: uPlot, values: number[]) => values.map((v) => usd(v));
    const equityOpts: uPlot.Options = {
      width: width(),
      height: 260,
      cursor: { sync },
      legend: { show: true },
      scales: { x: { time: true, range: timeRange } },
      axes: [{}, { values: axisValues, size: 80 }],
      series: [
        {},
        { label: "Equity", stroke: "#1f6feb", width: 2, value: (_u, v) => usd(v) },
        { label: "Realized equity", stroke: "#8250df", width: 1.5, dash: [6, 4], show: series.hasRealized, value: (_u, v) => usd(v) },
        {
          label: "Trades",
          stroke: "#bf8700",
          width: 0,
          paths: () => null,
          points: { show: true, size: 7, stroke: "#bf8700", fill: "#ffd33d" },
          value: (_u, v) => (v === null ? "–" : usd(v)),
        },
      ],
      hooks: {
        draw: [
          (u) => {
            // when the curve was first drawn (ms since navigation): bench/web_bench.py reads it
            const box = u.root.parentElement;
            if (box && !box.dataset.drawnAt) box.dataset.drawnAt = performance.now().toFixed(1);
            recordRange(u);
            drawn.current?.();
          },
        ],
      },
    };
    const drawdownOpts: uPlot.Options = {
      width: width(),
      height: 140,
      cursor: { sync },
      legend: { show: true },
      scales: { x: { time: true, range: timeRange } },
      axes: [{}, { values: (_u, values) => values.map((v) => `${v.toFixed(1)}%`), size: 80 }],
      series: [
        {},
        { label: "Drawdown", stroke: "#cf222e", fill: "rgba(207,34,46,0.18)", fillTo: 0, width: 1.5, value: (_u, v) => (v === null ? "–" : `${v.toFixed(2)}%`) },
      ],
    };
    const equityPlot = new uPlot(equityOpts, [series.x, series.equity, series.realized, series.markers] as uPlot.AlignedData, equityBox.current);
    const drawdownPlot = new uPlot(drawdownOpts, [series.x, series.drawdown] as uPlot.AlignedData, drawdownBox.current);
    const resize = () => {
      equityPlot.setSize({ width: width(), height: 260 });
      drawdownPlot.setSize({ width: width(), height: 140 });
    };
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      equityPlot.destroy();
      drawdownPlot.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [series]);

  if (series.x.length === 0) return <p className="muted">No equity points yet: the curve starts with the first run after deploy.</p>;
  return (
    <div className="charts">
      <div ref={equityBox} className="chart" role="img" aria-label="Equity" data-points={series.x.length} />
      <div ref={drawdownBox} className="chart" role="img" aria-label="Drawdown" />
    </div>
  );
}
