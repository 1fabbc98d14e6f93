// The deploy dialog: mode, bankroll, frequency preset or cron with its timezone (the next five slots come
// from POST /schedules/preview: the cron rule lives in the engine only), auto-start, max failures.
import { useEffect, useState } from "react";
import { api, ApiError } from "../api";
import type { Strategy } from "../types";
import { Dialog, ErrorNote, Time } from "./common";

const PRESETS = ["1m", "5m", "15m", "30m", "1h"];

export function DeployDialog({
  strategy,
  open,
  onClose,
  onDeployed,
}: {
  strategy: Strategy;
  open: boolean;
  onClose: () => void;
  onDeployed: () => void;
}) {
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const [mode, setMode] = useState(strategy.trading_mode || "paper");
  const [bankroll, setBankroll] = useState(String(strategy.paper_bankroll_usd ?? 1000));
  const [useCron, setUseCron] = useState(!!strategy.schedule_cron && !strategy.frequency);
  const [frequency, setFrequency] = useState(strategy.frequency ?? "5m");
  const [cron, setCron] = useState(strategy.schedule_cron ?? "0 * * * *");
  const [timezone, setTimezone] = useState(strategy.timezone || browserZone);
  const [autoStart, setAutoStart] = useState(true);
  const [maxFailures, setMaxFailures] = useState(String(strategy.max_consecutive_failures || 3));
  const [slots, setSlots] = useState<string[]>([]);
  const [previewError, setPreviewError] = useState<Error | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!open) return undefined;
    const schedule = useCron ? { schedule_cron: cron } : { frequency };
    const timer = window.setTimeout(() => {
      api<{ next_slots: string[] }>("POST", "/schedules/preview", { ...schedule, timezone, count: 5 })
        .then((answer) => {
          setSlots(answer.next_slots);
          setPreviewError(null);
        })
        .catch((err: Error) => {
          setSlots([]);
          setPreviewError(err);
        });
    }, 250);
    return () => window.clearTimeout(timer);
  }, [open, useCron, cron, frequency, timezone]);

  const deploy = async () => {
    setBusy(true);
    setError(null);
    try {
      await api(
        "POST",
        `/strategies/${strategy.strategy_id}/deploy`,
        {
          trading_mode: mode,
          paper_bankroll_usd: bankroll,
          ...(useCron ? { schedule_cron: cron } : { frequency }),
          timezone,
          auto_start: autoStart,
          max_consecutive_failures: Number(maxFailures),
        },
        { "if-match": String(strategy.version), "idempotency-key": crypto.randomUUID() },
      );
      onDeployed();
      onClose();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={open} title={`Deploy “${strategy.strategy_name}”`} onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void deploy();
        }}
      >
        <label>
          Trading mode
          <select value={mode} onChange={(e) => setMode(e.target.value)}>
            <option value="paper">paper</option>
            <option value="live">live</option>
          </select>
        </label>
        <label>
          Paper bankroll (USD)
          <input inputMode="decimal" value={bankroll} onChange={(e) => setBankroll(e.target.value)} />
        </label>
        <fieldset>
          <legend>Schedule</legend>
          <label className="inline">
            <input type="radio" name="schedule" checked={!useCron} onChange={() => setUseCron(false)} /> Preset
          </label>
          <label className="inline">
            <input type="radio" name="schedule" checked={useCron} onChange={() => setUseCron(true)} /> Cron
          </label>
          {useCron ? (
            <label>
              Cron (five fields)
              <input value={cron} onChange={(e) => setCron(e.target.value)} spellCheck={false} />
            </label>
          ) : (
            <label>
              Frequency
              <select value={frequency} onChange={(e) => setFrequency(e.target.value)}>
                {PRESETS.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </label>
          )}
          <label>
            Timezone
            <input value={timezone} onChange={(e) => setTimezone(e.target.value)} spellCheck={false} />
          </label>
          <div aria-live="polite">
            {slots.length ? (
              <>
                <p>Next five slots:</p>
                <ol className="slots">
                  {slots.map((s) => (
                    <li key={s}>
                      <Time iso={s} />
                    </li>
                  ))}
                </ol>
              </>
            ) : null}
            {previewError && !(previewError instanceof ApiError && previewError.notAvailable) ? <ErrorNote error={previewError} /> : null}
          </div>
        </fieldset>
        <label className="inline">
          <input type="checkbox" checked={autoStart} onChange={(e) => setAutoStart(e.target.checked)} /> Start right away
        </label>
        <label>
          Pause after this many failed runs in a row
          <input type="number" min={1} max={100} value={maxFailures} onChange={(e) => setMaxFailures(e.target.value)} />
        </label>
        <ErrorNote error={error} />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Deploy
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
