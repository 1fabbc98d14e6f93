"""The local stack as a whole: the environment each function gets, driven minutes, and a clean stop that
leaves no moto_server process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local.clock import FastClock
from local.stack import LocalStack, StackConfig

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 2, 7, 12, 50, tzinfo=UTC)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found.extend(int(p) for p in text.split())
    return found


def test_a_driven_minute_reaches_every_function_with_the_templates_environment(tmp_path: Path) -> None:
    # Given a driven stack with stand-ins that write a trade and a queue message on each tick
    seen: dict[str, list[Any]] = {"env": [], "cron": [], "stream": [], "worker": []}

    def cron(event: dict[str, Any], context: Any) -> None:
        import boto3

        seen["env"].append(dict(os.environ))
        seen["cron"].append((event, context.get_remaining_time_in_millis()))
        session = boto3.Session()
        session.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT_URL"]).put_item(
            TableName=os.environ["TRADES_TABLE"],
            Item={"strategy_id": {"S": "s-1"}, "trade_id": {"S": event["time"]}},
        )
        session.client("sqs", endpoint_url=os.environ["SQS_ENDPOINT_URL"]).send_message(
            QueueUrl=os.environ["EXECUTION_QUEUE_URL"], MessageBody=event["time"]
        )

    handlers = {
        "CronExecutorFunction": cron,
        "PortfolioStreamFunction": lambda e, c: seen["stream"].append(e) or {"batchItemFailures": []},
        "ExecutionWorkerFunction": lambda e, c: seen["worker"].append(e) or {"batchItemFailures": []},
        "ControlApiFunction": lambda e, c: {"statusCode": 200, "body": "{}"},
    }
    prefix = f"t{uuid.uuid4().hex[:6]}"
    clock = FastClock(START)
    before = dict(os.environ)
    config = StackConfig(prefix=prefix, driven=True, handlers=handlers, state_dir=tmp_path)

    # When two minutes are driven
    with LocalStack(config, clock=clock) as stack:
        moto_pid = stack.moto.pid if stack.moto else None
        stack.step(START + timedelta(minutes=1))
        stack.step(START + timedelta(minutes=2))
        names = stack.names

    # Then the scheduled events came for those minutes, with a Lambda-like remaining time
    assert [e["time"] for e, _ in seen["cron"]] == ["2026-02-07T12:51:00Z", "2026-02-07T12:52:00Z"]
    assert all(0 < remaining <= 60_000 for _, remaining in seen["cron"])
    assert seen["cron"][0][0]["resources"] == [
        f"arn:aws:events:us-east-1:123456789012:rule/{prefix}-CronExecutorFunctionEveryMinute"
    ]
    # the stream and the queue were delivered within the same minute
    assert [len(e["Records"]) for e in seen["stream"]] == [1, 1]
    assert [e["Records"][0]["body"] for e in seen["worker"]] == [
        "2026-02-07T12:51:00Z",
        "2026-02-07T12:52:00Z",
    ]
    # the functions saw the template's variables resolved to this stack, the endpoints and fake credentials
    env = seen["env"][0]
    assert names is not None
    assert env["TRADES_TABLE"] == names.table("TradesTable")
    assert env["STRATEGIES_TABLE"] == names.table("StrategiesTable")
    assert env["IDEMPOTENCY_TABLE"] == names.table("IdempotencyTable")
    assert env["EXECUTION_QUEUE_URL"] == names.queues["ExecutionQueue"]
    assert env["NOTIFICATIONS_TOPIC_ARN"] == names.topics["NotificationsTopic"]
    assert env["DYNAMODB_ENDPOINT_URL"] == env["SQS_ENDPOINT_URL"] == env["SNS_ENDPOINT_URL"]
    assert env["DYNAMODB_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert env["POLYMARKET_GAMMA_URL"].startswith("http://127.0.0.1:")
    assert env["POWERTOOLS_SERVICE_NAME"] == prefix
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Autopilot"
    assert env["DUE_SHARDS"] == "4"
    # the signing key stays in (local) Secrets Manager: the functions get the secret's ARN and the endpoint
    assert "TOKEN_SIGNING_KEY" not in env
    assert env["TOKEN_SIGNING_SECRET_ID"] == names.secrets["TokenSigningSecret"]
    assert env["SECRETSMANAGER_ENDPOINT_URL"] == env["DYNAMODB_ENDPOINT_URL"]
    assert env["AWS_ACCESS_KEY_ID"] == "local"
    # and stopping gave the environment back and ended moto
    assert {k: os.environ.get(k) for k in before} == before
    assert "TRADES_TABLE" not in os.environ or os.environ["TRADES_TABLE"] == before.get("TRADES_TABLE")
    assert moto_pid is not None
    assert not _alive(moto_pid)
    saved = json.loads((tmp_path / prefix / "stream-positions-PortfolioStreamFunction.json").read_text())
    assert next(iter(saved.values()))


def test_make_up_prints_the_api_and_tokens_and_sigterm_leaves_no_process(tmp_path: Path) -> None:
    # Given `python -m local.stack` on free ports
    prefix = f"t{uuid.uuid4().hex[:6]}"
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack", "--api-port", "0", "--moto-port", "0", "--prefix", prefix],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline() if process.stdout else ""
            if not line:
                break
            lines.append(line)
            if line.startswith("Function logs"):
                break
        text = "".join(lines)
        api = next(line.split()[1] for line in lines if line.strip().startswith("API"))
        token = next(line.split()[1] for line in lines if line.strip().startswith("alice"))
        children = _children(process.pid)

        # When the API is called, then the process is sent SIGTERM
        request = urllib.request.Request(f"{api}/strategies")
        try:
            urllib.request.urlopen(request, timeout=10)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        issued = json.loads(urllib.request.urlopen(f"{api}/_local/token?user=bob", timeout=10).read())
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # Then it printed the API, tokens for two users and examples, answered like API Gateway, and left nothing
    assert "bob" in text and "autopilot strategies create" in text and "curl" in text
    assert token.count(".") == 2
    assert status == 401
    assert issued["user"] == "bob"
    assert code == 0
    assert children, "moto_server ran as a child process"
    time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)]
