import { useEffect, useRef, type ReactNode } from "react";
import { ApiError } from "../api";
import { localTime, tone, usd, utcTime } from "../format";

const ACTION_WORDS: Record<string, string> = {
  deploy: "Deploy",
  start: "Start",
  pause: "Pause",
  resume: "Resume",
  stop: "Stop",
  run: "Run now",
  patch: "Edit",
  delete: "Delete",
};

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span>–</span>;
  return (
    <time dateTime={iso} title={utcTime(iso)}>
      {localTime(iso)}
    </time>
  );
}

export function Money({ value, signed = false }: { value: number | null | undefined; signed?: boolean }) {
  return <span className={signed ? `money ${tone(value)}` : "money"}>{usd(value, signed)}</span>;
}

/** What went wrong, in words: the API's message, the allowed actions of a 409, the fields of a 422. */
export function ErrorNote({ error }: { error: Error | null | undefined }) {
  if (!error) return null;
  if (error instanceof ApiError && error.notAvailable) return <NotAvailable />;
  const details = error instanceof ApiError ? error.details : null;
  let extra: ReactNode = null;
  if (error instanceof ApiError && error.code === "invalid_transition" && details && typeof details === "object") {
    const { status, allowed } = details as { status?: string; allowed?: string[] };
    extra = (
      <p>
        The strategy is {status ?? "in another state"}.{" "}
        {allowed && allowed.length ? `Allowed now: ${allowed.map((a) => ACTION_WORDS[a] ?? a).join(", ")}.` : "No action is allowed now."}
      </p>
    );
  } else if (Array.isArray(details) && details.length) {
    extra = (
      <ul>
        {details.slice(0, 10).map((d, i) => {
          const item = d as { loc?: unknown[]; msg?: string };
          return (
            <li key={i}>
              {item.loc ? <code>{item.loc.join(".")}</code> : null} {item.msg ?? JSON.stringify(d)}
            </li>
          );
        })}
      </ul>
    );
  }
  return (
    <div className="error" role="alert">
      <p>{error.message}</p>
      {extra}
    </div>
  );
}

export function NotAvailable({ what }: { what?: string }) {
  return <p className="muted">{what ? `${what}: not available on this server.` : "Not available on this server."}</p>;
}

export function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  return (
    <section className="card" aria-labelledby={id ? `${id}-title` : undefined}>
      <h2 id={id ? `${id}-title` : undefined}>{title}</h2>
      {children}
    </section>
  );
}

/** A modal dialog on the native <dialog>: focus is trapped and Escape closes it. */
export function Dialog({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} onClose={onClose} aria-label={title}>
      {open ? (
        <>
          <h2>{title}</h2>
          {children}
        </>
      ) : null}
    </dialog>
  );
}

export function Pager({
  hasPrevious,
  hasNext,
  onPrevious,
  onNext,
  label,
}: {
  hasPrevious: boolean;
  hasNext: boolean;
  onPrevious: () => void;
  onNext: () => void;
  label: string;
}) {
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" onClick={onPrevious} disabled={!hasPrevious}>
        Newer
      </button>
      <button type="button" onClick={onNext} disabled={!hasNext}>
        Older
      </button>
    </nav>
  );
}

export function Sparkline({ values, label }: { values: number[] | null | undefined; label: string }) {
  if (!values || values.length < 2) return <span className="muted">–</span>;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const points = values
    .map((v, i) => `${((i / (values.length - 1)) * 100).toFixed(1)},${(28 - ((v - min) / span) * 26).toFixed(1)}`)
    .join(" ");
  const up = values[values.length - 1] >= values[0];
  return (
    <svg className={`spark ${up ? "up" : "down"}`} viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label={label}>
      <polyline points={points} fill="none" strokeWidth="2" vectorEffect="non-scaling-stroke" />
    </svg>
  );
}
