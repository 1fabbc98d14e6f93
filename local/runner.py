"""`python -m local.runner`: the process that runs the handlers, on its own, attached to a moto_server and
resources another process started, so failure drills can SIGKILL it while moto_server (the "AWS" side) stays
up, and start it again.

It is a driven LocalStack (`StackConfig(moto_url=..., driven=True)`): the resources are found by `--prefix`
on the moto server (`local.stack.existing_names`), the market data comes from `--gamma-url`/`--clob-url`, and
each tick is `LocalStack.step(minute)`: the cron handler's scheduled event, the queue drained, the stream
delivered (every `--stream-every` ticks). The stream poller keeps its position in `--state-dir`, so a runner
started again with the same state directory resumes where the last one saved.

    python -m local.runner --moto-url http://127.0.0.1:5050 --prefix autopilot-local \
        --gamma-url http://127.0.0.1:8088 --clob-url http://127.0.0.1:8088 \
        --state-dir .local-state --events events.jsonl \
        --clock-start 2026-02-07T12:50:00Z --ticks 10 [--tick-seconds 0] [--stream-every 1] \
        [--parameter DueShards=1] [--env RUN_CONCURRENCY=1] [--hold-stream-batch N]

Tick i (1..N) is the minute `clock-start + i`; `--tick-seconds` waits that long (real time) before each one.
What happens is written as JSON lines to `--events` (one object a line, flushed at once, so a process killed
at any point leaves only whole lines): `started` (pid, names, the stream positions it loaded), per tick
`tick_started` / `tick_done` (the cron handler's report), per stream batch `stream_batch` (before the handler
is invoked: count, first and last sequence number) and `stream_batch_done`, then `done`. The handlers' own
output (Powertools logs, EMF lines) goes to `<state-dir>/<prefix>/runner-functions.log`.

`--hold-stream-batch N` is for drills: of the N-th stream batch this process delivers, only the records of the
first half of its strategies reach the handler; then the runner emits `stream_batch_held` and waits to be
killed, as a consumer that died mid-batch: part of the batch applied, its position never saved.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from local.clock import FastClock, parse_instant
from local.stack import STATE_DIR, LocalStack, StackConfig, handler_output

Invoke = Callable[[dict[str, Any]], Any]


class EventLog:
    """JSON lines, one per event, flushed at once: a reader in another process sees whole events."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "at": time.time(), **fields}, default=str, sort_keys=True)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise SystemExit(f"{flag} takes KEY=VALUE, not {value!r}")
        pairs[key] = rest
    return pairs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.runner", description=(__doc__ or "").split("\n\n", maxsplit=1)[0]
    )
    parser.add_argument("--moto-url", required=True, help="the running moto server")
    parser.add_argument("--prefix", required=True, help="the resource prefix of the stack that created them")
    parser.add_argument("--gamma-url", required=True)
    parser.add_argument("--clob-url", required=True)
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help="where the stream position lives")
    parser.add_argument("--events", type=Path, required=True, help="JSON lines of what happened")
    parser.add_argument("--clock-start", required=True, help="the clock's start; tick i is start + i minutes")
    parser.add_argument("--ticks", type=int, required=True)
    parser.add_argument("--tick-seconds", type=float, default=0.0, help="real seconds before each tick")
    parser.add_argument("--stream-every", type=int, default=1, help="deliver the stream every N ticks")
    parser.add_argument("--settle", action="store_true", help="deliver the queue and stream at the end")
    parser.add_argument(
        "--parameter", action="append", default=[], help="template parameter KEY=VALUE (as the creator's)"
    )
    parser.add_argument("--env", action="append", default=[], help="extra function environment KEY=VALUE")
    parser.add_argument("--hold-stream-batch", type=int, default=0, help="drills: die inside batch N")
    return parser.parse_args(argv)


def _strategy_of(record: dict[str, Any]) -> str:
    return str(record.get("dynamodb", {}).get("Keys", {}).get("strategy_id", {}).get("S", ""))


def _watch_stream(stack: LocalStack, events: EventLog, hold: int) -> None:
    """Wrap the stream poller's invoke: report each batch, and (drills) hold the `hold`-th one half done."""
    poller = stack.stream_poller
    assert poller is not None
    deliver: Invoke = poller.invoke
    batches = 0

    def invoke(event: dict[str, Any]) -> Any:
        nonlocal batches
        batches += 1
        records = event.get("Records", [])
        sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
        strategies = sorted({_strategy_of(r) for r in records})
        events.emit(
            "stream_batch",
            number=batches,
            records=len(records),
            first_seq=sequence[0] if sequence else None,
            last_seq=sequence[-1] if sequence else None,
            strategies=strategies,
        )
        if batches == hold:
            # the records of the first half of the batch's strategies (in batch order) reach the handler,
            # as if it had synced those and died before the rest
            order = list(dict.fromkeys(_strategy_of(r) for r in records))
            applied = order[: max(1, len(order) // 2)]
            part = [r for r in records if _strategy_of(r) in applied]
            deliver({**event, "Records": part})
            events.emit(
                "stream_batch_held",
                number=batches,
                applied=len(part),
                strategies=applied,
                not_applied=order[len(applied) :],
                positions=dict(poller.positions),
            )
            while True:  # a consumer stuck mid-batch: the drill kills it here
                time.sleep(1)
        answer = deliver(event)
        events.emit("stream_batch_done", number=batches, positions=dict(poller.positions))
        return answer

    poller.invoke = invoke


def run(args: argparse.Namespace, events: EventLog) -> int:
    start = parse_instant(args.clock_start)
    clock = FastClock(start)
    config = StackConfig(
        prefix=args.prefix,
        moto_url=args.moto_url,
        gamma_url=args.gamma_url,
        clob_url=args.clob_url,
        state_dir=args.state_dir,
        driven=True,
        parameters=_pairs(args.parameter, "--parameter"),
        extra_env=_pairs(args.env, "--env"),
    )
    log_path = args.state_dir / args.prefix / "runner-functions.log"
    with handler_output(log_path), LocalStack(config, clock=clock) as stack:
        assert stack.names is not None and stack.stream_poller is not None and stack.ticker is not None
        events.emit(
            "started",
            pid=os.getpid(),
            names=asdict(stack.names),
            stream_positions=dict(stack.stream_poller.positions),
        )
        _watch_stream(stack, events, args.hold_stream_batch)
        reports: list[Any] = []
        cron: Invoke = stack.ticker.invoke

        def tick_invoke(event: dict[str, Any]) -> Any:
            answer = cron(event)
            reports.append(answer)
            return answer

        stack.ticker.invoke = tick_invoke
        for index in range(1, args.ticks + 1):
            if args.tick_seconds > 0:
                time.sleep(args.tick_seconds)
            minute: datetime = start + timedelta(minutes=index)
            events.emit("tick_started", minute=minute.isoformat())
            reports.clear()
            stack.step(minute, deliver_stream=index % max(1, args.stream_every) == 0)
            events.emit("tick_done", minute=minute.isoformat(), report=reports[-1] if reports else None)
        if args.settle:
            stack.settle()
        events.emit("done", stream_positions=dict(stack.stream_poller.positions))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    args.events.parent.mkdir(parents=True, exist_ok=True)
    with args.events.open("a", buffering=1) as stream:
        return run(args, EventLog(stream))


if __name__ == "__main__":
    sys.exit(main())
