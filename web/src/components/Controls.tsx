// Start, Pause, Resume, Stop, Run now: each behind a confirmation; only what the state allows is enabled
// (DESIGN 3). A 409 (the page was stale) is shown in words with the actions allowed now.
import { useState, type ReactNode } from "react";
import { api } from "../api";
import type { Status, Strategy } from "../types";
import { Dialog, ErrorNote } from "./common";

type Action = "start" | "pause" | "resume" | "stop" | "run";

const ACTIONS: { action: Action; label: string; allowed: Status[]; explain: string }[] = [
  { action: "start", label: "Start", allowed: ["DEPLOYED", "STOPPED"], explain: "It runs from its next slot." },
  { action: "pause", label: "Pause", allowed: ["RUNNING"], explain: "It keeps its positions and stops running until resumed." },
  { action: "resume", label: "Resume", allowed: ["PAUSED"], explain: "It runs again from its next slot." },
  { action: "stop", label: "Stop", allowed: ["RUNNING", "PAUSED"], explain: "It keeps its positions; start it again later." },
  { action: "run", label: "Run now", allowed: ["DEPLOYED", "RUNNING", "PAUSED", "STOPPED"], explain: "One run now, outside the schedule." },
];

export function Controls({ strategy, onChanged, children }: { strategy: Strategy; onChanged: () => void; children?: ReactNode }) {
  const [pending, setPending] = useState<(typeof ACTIONS)[number] | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [note, setNote] = useState<string>("");
  const [busy, setBusy] = useState(false);

  const confirm = async () => {
    if (!pending) return;
    setBusy(true);
    setError(null);
    try {
      const answer = await api<Record<string, unknown>>("POST", `/strategies/${strategy.strategy_id}/${pending.action}`, undefined, {
        "idempotency-key": crypto.randomUUID(),
      });
      setNote(
        pending.action === "run"
          ? `Run finished: ${String(answer.status)}, ${String(answer.trades_created ?? 0)} trade(s).`
          : `${pending.label}: the strategy is now ${String(answer.status)}.`,
      );
    } catch (err) {
      setError(err as Error);
      setNote("");
    } finally {
      setBusy(false);
      setPending(null);
      onChanged();
    }
  };

  return (
    <div className="controls">
      <div className="actions" role="group" aria-label="Controls">
        {ACTIONS.map((a) => (
          <button key={a.action} type="button" disabled={!a.allowed.includes(strategy.status)} onClick={() => setPending(a)}>
            {a.label}
          </button>
        ))}
        {children}
      </div>
      <p className="note" aria-live="polite">
        {note}
      </p>
      <ErrorNote error={error} />
      <Dialog open={pending !== null} title={pending ? `${pending.label} “${strategy.strategy_name}”?` : ""} onClose={() => setPending(null)}>
        <p>{pending?.explain}</p>
        <div className="actions">
          <button type="button" className="primary" onClick={confirm} disabled={busy}>
            Confirm
          </button>
          <button type="button" onClick={() => setPending(null)}>
            Cancel
          </button>
        </div>
      </Dialog>
    </div>
  );
}
