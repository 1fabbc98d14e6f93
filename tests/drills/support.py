"""What the failure drills share: a local stack in the test process that owns moto_server, the recorded
Polymarket server and the HTTP gateway (the "AWS" side, which stays up), strategies created through the API,
the runner (`python -m local.runner`) as a separate process that can be killed, and the demo's checks
(portfolio equals the ledger replay, one run per slot) applied to what the stack holds afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from local.clock import FastClock, parse_instant
from local.demo import (
    RECORDING_TIME,
    SAMPLES,
    Api,
    Scenario,
    StrategyPlan,
    StrategyResult,
    check_portfolio,
    check_runs,
    ledger_trades,
)
from local.moto_process import _die_with_parent
from local.stack import LocalStack, StackConfig

ROOT = Path(__file__).resolve().parents[2]
START = parse_instant(RECORDING_TIME)
PARAMETERS = {"DueShards": "1"}  # a handful of strategies: one partition of the due index
DESIGN = json.loads((SAMPLES / "design_example.json").read_text())
CHEAPER = json.loads((SAMPLES / "cheaper_side.json").read_text())


def minute(index: int) -> datetime:
    return START + timedelta(minutes=index)


@dataclass
class Drill:
    """The test process's side: the stack (moto, market server, gateway), an API client and the strategies."""

    stack: LocalStack
    clock: FastClock
    api: Api
    tokens: dict[str, str]
    workdir: Path
    strategies: list[StrategyResult] = field(default_factory=list)
    runners: list[Runner] = field(default_factory=list)

    def create(
        self, user: str, body: dict[str, Any], *, frequency: str = "1m", bankroll: int = 1000, **deploy: Any
    ) -> str:
        """Create, deploy and start a strategy through the API; it is due from the next minute."""
        token = self.tokens[user]
        created = self.api.call("POST", "/strategies", token, body)
        sid = str(created["strategy_id"])
        deploy.update({"paper_bankroll_usd": bankroll, "frequency": frequency, "auto_start": True})
        self.api.call("POST", f"/strategies/{sid}/deploy", token, deploy)
        plan = StrategyPlan(user=user, body=body, frequency=frequency, bankroll=bankroll)
        self.strategies.append(StrategyResult(plan=plan, strategy_id=sid))
        return sid

    def runner(self, name: str, *, clock_start: datetime, ticks: int, **options: Any) -> Runner:
        runner = Runner(self, name, clock_start=clock_start, ticks=ticks, options=options)
        self.runners.append(runner)
        return runner

    def read_back(self) -> list[StrategyResult]:
        """Strategy, portfolio, every log and every trade of each strategy, read through the API."""
        for result in self.strategies:
            token = self.tokens[result.plan.user]
            sid = result.strategy_id
            result.strategy = self.api.call("GET", f"/strategies/{sid}", token)
            result.portfolio = self.api.call("GET", f"/strategies/{sid}/portfolio", token)
            result.logs = self.api.all_items(f"/strategies/{sid}/executions", token)
            result.trades = self.api.all_items(f"/strategies/{sid}/trades", token)
        return self.strategies

    def check_every_slot_ran_once(self, minutes: int) -> list[str]:
        """The demo's run check over ticks 1..minutes: at most one run per slot, and every slot has a run or
        is named in a skipped log's missed_slots."""
        scenario = Scenario(start=START, minutes=minutes, plans=[r.plan for r in self.strategies])
        failures: list[str] = []
        for result in self.read_back():
            failures.extend(check_runs(result, scenario, None))
        return failures

    def portfolio_failures(self) -> dict[str, list[str]]:
        """The demo's portfolio check per strategy id (only those that fail): the read model against the
        replay of the ledger in the Trades table."""
        failures = {r.strategy_id: check_portfolio(r, self.stack) for r in self.read_back()}
        return {sid: found for sid, found in failures.items() if found}

    def check_portfolios_equal_the_ledger(self) -> list[str]:
        return [f"{sid}: {failure}" for sid, found in self.portfolio_failures().items() for failure in found]

    def check_ledgers_have_no_duplicate(self) -> list[str]:
        """Trade ids unique and the ledger's seq contiguous from 1 within each epoch."""
        failures: list[str] = []
        for result in self.strategies:
            trades = ledger_trades(self.stack, result.strategy_id)
            ids = Counter(t.trade_id for t in trades)
            failures += [f"{result.strategy_id}: trade {i} {n} times" for i, n in ids.items() if n > 1]
            for epoch in sorted({t.epoch for t in trades}):
                seqs = sorted(t.seq for t in trades if t.epoch == epoch)
                if seqs != list(range(1, len(seqs) + 1)):
                    failures.append(f"{result.strategy_id}: epoch {epoch} seqs {seqs} are not 1..{len(seqs)}")
        return failures

    def logs_for(self, slot: datetime) -> int:
        """Execution logs for `slot` across the drill's strategies, straight from the table (consistent)."""
        assert self.stack.names is not None
        client = self.stack.client("dynamodb")
        from engine.storage.dynamo import time_key

        stamp = time_key(slot) + "#"  # the log_key starts with the slot as stored
        count = 0
        for result in self.strategies:
            page = client.query(
                TableName=self.stack.names.table("ExecutionLogsTable"),
                KeyConditionExpression="strategy_id = :s AND begins_with(log_key, :k)",
                ExpressionAttributeValues={":s": {"S": result.strategy_id}, ":k": {"S": stamp}},
                ConsistentRead=True,
                Select="COUNT",
            )
            count += int(page["Count"])
        return count


@contextmanager
def drill_stack(tmp_path: Path, *, extra_env: dict[str, str] | None = None) -> Iterator[Drill]:
    """A driven stack on a fast clock at the recording time, with API tokens for alice and bob."""
    clock = FastClock(START)
    config = StackConfig(
        prefix=f"drill-{uuid.uuid4().hex[:6]}",
        driven=True,
        state_dir=tmp_path / "stack",
        parameters=dict(PARAMETERS),
        extra_env=dict(extra_env or {}),
    )
    with LocalStack(config, clock=clock) as stack:
        api = Api(stack.api_url)
        tokens = {user: api.token(user) for user in ("alice", "bob")}
        drill = Drill(stack=stack, clock=clock, api=api, tokens=tokens, workdir=tmp_path)
        try:
            yield drill
        finally:
            for runner in drill.runners:  # a failed drill leaves no runner behind
                runner.close()


class Runner:
    """`python -m local.runner` attached to the drill's moto server and market server, as a child process."""

    def __init__(
        self, drill: Drill, name: str, *, clock_start: datetime, ticks: int, options: dict[str, Any]
    ) -> None:
        stack = drill.stack
        assert stack.polymarket is not None
        self.events_path = drill.workdir / f"{name}.events.jsonl"
        self.stderr_path = drill.workdir / f"{name}.stderr.txt"
        command = [
            sys.executable,
            "-m",
            "local.runner",
            "--moto-url",
            stack.endpoint_url,
            "--prefix",
            stack.config.prefix,
            "--gamma-url",
            stack.polymarket.url,
            "--clob-url",
            stack.polymarket.url,
            "--state-dir",
            str(drill.workdir / "runner"),
            "--events",
            str(self.events_path),
            "--clock-start",
            clock_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--ticks",
            str(ticks),
        ]
        for key, value in PARAMETERS.items():
            command += ["--parameter", f"{key}={value}"]
        for key, value in options.pop("env", {}).items():
            command += ["--env", f"{key}={value}"]
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            command += [flag] if value is True else [flag, str(value)]
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            # the runner dies with the test process, as moto_server does with its stack
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )

    def events(self) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        lines = self.events_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def first(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.events() if e["event"] == name), None)

    def wait_for(
        self, condition: Callable[[list[dict[str, Any]]], bool], timeout: float, poll: float = 0.05
    ) -> list[dict[str, Any]]:
        """Poll the events until `condition` holds (bounded); fails when the runner exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if condition(events):
                return events
            self.assert_running()
            time.sleep(poll)
        raise AssertionError(f"the runner did not get there within {timeout:.0f}s: {self.events()[-3:]}")

    def assert_running(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"the runner exited ({self.process.returncode}): {self.stderr()}")

    def wait(self, timeout: float) -> int:
        """Wait for the runner to finish on its own; its exit code."""
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self.close()
        assert code == 0, f"the runner failed ({code}): {self.stderr()}"
        return code

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no saved position beyond what was already written."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if not self._stderr.closed:
            self._stderr.close()

    def stderr(self) -> str:
        return self.stderr_path.read_text()[-2000:] if self.stderr_path.exists() else ""
