// Several curves on one time axis (backtest beside live, strategies compared): each its own series,
// joined on the union of their times; gaps are bridged.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { recordRange, timeRange } from "./timeScale";

export interface Line {
  label: string;
  points: { t: number; v: number }[];
}

const COLORS = ["#1f6feb", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#0550ae", "#953800", "#6e7781", "#116329", "#a40e26"];

export function LinesChart({ lines, label, format }: { lines: Line[]; label: string; format: (v: number) => string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || !lines.some((l) => l.points.length)) return undefined;
    const times = Array.from(new Set(lines.flatMap((l) => l.points.map((p) => p.t)))).sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const columns = lines.map((l) => {
      const column: (number | null)[] = times.map(() => null);
      l.points.forEach((p) => (column[index.get(p.t) as number] = p.v));
      return column;
    });
    const width = () => Math.max(240, Math.floor(box.current?.clientWidth ?? 600));
    const plot = new uPlot(
      {
        width: width(),
        height: 240,
        scales: { x: { time: true, range: timeRange } },
        hooks: { draw: [recordRange] },
        axes: [{}, { values: (_u, values) => values.map(format), size: 80 }],
        series: [{}, ...lines.map((l, i) => ({ label: l.label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, value: (_u: uPlot, v: number | null) => (v === null ? "–" : format(v)) }))],
      },
      [times, ...columns] as uPlot.AlignedData,
      box.current,
    );
    const resize = () => plot.setSize({ width: width(), height: 240 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [lines, format]);
  return <div ref={box} className="chart" role="img" aria-label={label} />;
}
