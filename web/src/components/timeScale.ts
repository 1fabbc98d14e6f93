// The time (x) scale every chart uses. uPlot widens a lone point's range to `min + 86400 / ms` before any
// range function sees it: with timestamps in seconds (ms = 1e-3) that is 86.4 million seconds, so a freshly
// deployed strategy's one equity point drew on an axis running 2.7 years ahead. The range is taken from the
// data instead: a lone time gets an hour either side; otherwise uPlot's own range (zoom included) stands.
import type uPlot from "uplot";

export const LONE_POINT_PAD_S = 3600;

export function timeRange(u: uPlot, min: number, max: number): uPlot.Range.MinMax {
  const xs = u.data[0] as number[];
  if (xs.length && xs[0] === xs[xs.length - 1]) return [xs[0] - LONE_POINT_PAD_S, xs[0] + LONE_POINT_PAD_S];
  return [min, max];
}

/** The drawn x range on the chart's box (`data-x-min`/`data-x-max`, epoch seconds) for tests and figures. */
export function recordRange(u: uPlot): void {
  const box = u.root.parentElement;
  const { min, max } = u.scales.x;
  if (!box || min === undefined || max === undefined) return;
  box.dataset.xMin = String(min);
  box.dataset.xMax = String(max);
}
