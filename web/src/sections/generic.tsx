// Rendering helpers for the sections built against later issues' contracts (13, 14, 15): they read fields
// defensively, so a field named slightly differently shows as a plain value rather than breaking the page.
import type { ReactNode } from "react";
import { Money, Time } from "../components/common";
import { num } from "../format";

export type Json = Record<string, unknown>;

export function pick<T = unknown>(item: Json | null | undefined, ...names: string[]): T | undefined {
  if (!item) return undefined;
  for (const name of names) if (item[name] !== undefined && item[name] !== null) return item[name] as T;
  return undefined;
}

const TIME_KEY = /(_at|^at|_time|start|end|date)$/;

export function Value({ name, value }: { name: string; value: unknown }): ReactNode {
  if (value === null || value === undefined) return <span className="muted">–</span>;
  if (typeof value === "number") {
    if (name.endsWith("_usd")) return <Money value={value} signed={/pnl|profit|return/.test(name)} />;
    if (name.endsWith("_pct")) return <span>{num(value)}%</span>;
    return <span>{num(value, 4)}</span>;
  }
  if (typeof value === "string" && TIME_KEY.test(name) && !Number.isNaN(Date.parse(value))) return <Time iso={value} />;
  if (typeof value === "boolean") return <span>{value ? "yes" : "no"}</span>;
  if (typeof value === "object") return <code className="json">{JSON.stringify(value)}</code>;
  return <span>{String(value)}</span>;
}

export function KeyValues({ item, only }: { item: Json; only?: string[] }) {
  const keys = (only ?? Object.keys(item)).filter((k) => item[k] !== undefined && (typeof item[k] !== "object" || item[k] === null));
  return (
    <dl className="figures">
      {keys.map((k) => (
        <div key={k}>
          <dt>{k.replace(/_/g, " ")}</dt>
          <dd>
            <Value name={k} value={item[k]} />
          </dd>
        </div>
      ))}
    </dl>
  );
}
