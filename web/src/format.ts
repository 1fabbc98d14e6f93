// Money with two decimals and a sign; times in the browser's zone with UTC in the title.
const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function usd(value: number | null | undefined, signed = false): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const sign = value < 0 ? "−" : signed && value > 0 ? "+" : "";
  return `${sign}$${money.format(Math.abs(value))}`;
}

export function pct(value: number | null | undefined, signed = true): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const sign = value < 0 ? "−" : signed && value > 0 ? "+" : "";
  return `${sign}${money.format(Math.abs(value))}%`;
}

export function ratio(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : pct(value * 100, false);
}

export function num(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined) return "–";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits });
}

export function localTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function utcTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().replace("T", " ").slice(0, 19)} UTC`;
}

export function tone(value: number | null | undefined): string {
  if (!value) return "flat";
  return value > 0 ? "up" : "down";
}

export function pauseReasonText(reason: string | null | undefined): string {
  if (!reason) return "";
  if (reason === "user") return "paused by you";
  if (reason === "kill_switch") return "kill switch";
  if (reason.startsWith("auto:")) return `automatic: ${reason.slice(5).replace(/_/g, " ")}`;
  return reason.replace(/_/g, " ");
}
