"""The embedded local stack (DESIGN section 8): moto_server in its own process, every resource from
template.yaml, the recorded Polymarket server, the four handlers in-process with the environment the template
gives them, a local HTTP API gateway with development JWTs, a one-minute ticker, a stream poller and a queue
poller, all on one shared clock.

`python -m local.stack` (`make up`) runs it in real time until Ctrl-C or SIGTERM; the demo runs it on a fast
clock and drives each minute itself (`driven=True`, `step(minute)`).

Ports (flag, environment, default): API `--api-port` AUTOPILOT_API_PORT 8080; moto `--moto-port`
AUTOPILOT_MOTO_PORT 5050 (5000 is often taken by other local tools); recorded Polymarket `--polymarket-port`
AUTOPILOT_POLYMARKET_PORT 0 (any free port). 0 always means "pick a free port".
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TextIO

import boto3
from botocore.exceptions import ClientError

from local.auth import DevTokenIssuer
from local.clock import Clock, FastClock, OffsetClock, RealClock, parse_instant
from local.gateway import Gateway, GatewayServer
from local.infra import (
    Names,
    create_resources,
    ensure_key,
    function_environment,
    load_template,
    resources_of_type,
)
from local.lambda_runtime import REGION, Handler, LocalFunction, function_specs
from local.moto_process import MotoProcess
from local.oauth import LOCAL_CLIENT_ID
from local.pollers import PollingThread, QueueMapping, QueuePoller, StreamMapping, StreamPoller
from local.ticker import Ticker

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".local-state"
DEFAULT_API_PORT = 8080
DEFAULT_MOTO_PORT = 5050
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # botocore >= 1.44.4 asks an account-id endpoint moto does not serve (TOOLING.md)
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


@dataclass
class StackConfig:
    prefix: str = "autopilot-local"
    api_port: int = 0
    moto_port: int = 0
    moto_url: str | None = None  # an already running moto server (resources reused when they exist)
    polymarket_port: int = 0
    gamma_url: str | None = None  # with clob_url: use these instead of the recorded server
    clob_url: str | None = None
    state_dir: Path = STATE_DIR
    driven: bool = False  # True: no ticker/poller threads; the caller drives time with step()
    quiet: bool = True  # handler logs at WARNING (EMF metric lines are still written, as in Lambda)
    handlers: dict[str, Handler] = field(default_factory=dict)  # logical id -> stand-in (tests)
    extra_env: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)  # template parameter overrides (e.g. DueShards)
    poll_idle_seconds: float = 0.5


def _get_att(value: Any) -> tuple[str, str] | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return str(logical), str(attribute)
    return None


def existing_names(session: Any, prefix: str, endpoint_url: str, template: dict[str, Any]) -> Names | None:
    """The physical names of resources an earlier stack with this prefix created on the same moto, or None
    when they are not there (a new moto)."""
    names = Names(prefix=prefix)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    sns = session.client("sns", endpoint_url=endpoint_url)
    try:
        for logical in resources_of_type(template, "AWS::DynamoDB::Table"):
            table = dynamodb.describe_table(TableName=f"{prefix}-{logical}")["Table"]
            names.tables[logical] = table["TableName"]
            if table.get("LatestStreamArn"):
                names.streams[logical] = table["LatestStreamArn"]
        for logical, res in resources_of_type(template, "AWS::SQS::Queue").items():
            fifo = bool(res.get("Properties", {}).get("FifoQueue"))
            url = sqs.get_queue_url(QueueName=f"{prefix}-{logical}" + (".fifo" if fifo else ""))["QueueUrl"]
            names.queues[logical] = url
            names.queue_arns[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
    except ClientError:
        return None
    for logical in resources_of_type(template, "AWS::SNS::Topic"):
        names.topics[logical] = sns.create_topic(Name=f"{prefix}-{logical}")["TopicArn"]  # idempotent
    kms = session.client("kms", endpoint_url=endpoint_url)
    for logical in resources_of_type(template, "AWS::KMS::Key"):
        names.keys[logical] = ensure_key(kms, prefix, logical)
    return names


class LocalStack:
    """Everything `make up` and `make demo` run on. Use as a context manager, or start() / stop()."""

    def __init__(self, config: StackConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or StackConfig()
        self.clock: Clock = clock or RealClock()
        self.template = load_template()
        self.specs = function_specs(self.config.prefix, self.template)
        self.functions = {
            logical: LocalFunction(spec, self.config.handlers.get(logical))
            for logical, spec in self.specs.items()
        }
        self.issuer = DevTokenIssuer(now=self.clock.now)
        self.moto: MotoProcess | None = None
        self.polymarket: Any = None  # RecordedPolymarketServer when the stack serves the recorded data
        self.gateway_server: GatewayServer | None = None
        self.ticker: Ticker | None = None
        self.stream_poller: StreamPoller | None = None
        self.queue_poller: QueuePoller | None = None  # the ExecutionQueue's
        self.queue_pollers: dict[str, QueuePoller] = {}  # every SQS mapping, by queue logical id
        self.names: Names | None = None
        self.environment: dict[str, str] = {}
        self._threads: list[PollingThread] = []
        self._saved_env: dict[str, str | None] = {}
        self._started = False
        self._stop_lock = threading.Lock()

    # -- lifecycle

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> LocalStack:
        if self._started:
            return self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        config = self.config
        state = config.state_dir / config.prefix
        if config.moto_url:
            endpoint = config.moto_url.rstrip("/")
        else:
            self.moto = MotoProcess(config.moto_port, log_path=state / "moto.log").start()
            endpoint = self.moto.url
        self.endpoint_url = endpoint
        self.session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",
            region_name=REGION,
        )
        names = (
            existing_names(self.session, config.prefix, endpoint, self.template) if config.moto_url else None
        )
        self.names = names or create_resources(
            self.session,
            config.prefix,
            endpoint_url=endpoint,
            template=self.template,
            parameters=config.parameters,
        )
        if config.gamma_url and config.clob_url:
            gamma, clob = config.gamma_url, config.clob_url
        else:
            from local.polymarket_server import RecordedPolymarketServer

            self.polymarket = RecordedPolymarketServer(
                port=config.polymarket_port, clock=self.clock.now
            ).start()
            gamma = clob = self.polymarket.url
        self.environment = self._environment(gamma, clob)
        self._apply_environment()
        self._load_handlers()
        self.gateway = Gateway(self._invoke_by_id, self.issuer)
        self.gateway_server = GatewayServer(self.gateway, port=config.api_port).start()
        self._wire_event_sources(state)
        if not config.driven:
            assert self.ticker and self.stream_poller and self.queue_poller
            self.ticker.start()
            stream = self.stream_poller
            idle = config.poll_idle_seconds
            self._threads = [PollingThread("local-stream-poller", stream.poll_once, idle).start()]
            for queue_id, queue in self.queue_pollers.items():
                name = "local-queue-poller" if queue is self.queue_poller else f"local-{queue_id}-poller"
                self._threads.append(
                    PollingThread(name, lambda q=queue: q.poll_once(wait_seconds=1), idle).start()  # type: ignore[misc]
                )

    def stop(self) -> None:
        with self._stop_lock:
            if not self._started:
                return
            self._started = False
        if self.ticker is not None:
            self.ticker.stop()
        for thread in self._threads:
            thread.stop()
        self._threads = []
        if self.gateway_server is not None:
            self.gateway_server.stop()
            self.gateway_server = None
        if self.polymarket is not None:
            self.polymarket.stop()
            self.polymarket = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        self._restore_environment()

    # -- environment and handlers

    def _environment(self, gamma_url: str, clob_url: str) -> dict[str, str]:
        assert self.names is not None
        parameters = {
            **self.config.parameters,
            "PolymarketGammaUrl": gamma_url,
            "PolymarketClobUrl": clob_url,
            "LogLevel": "WARNING" if self.config.quiet else "INFO",
        }
        env: dict[str, str] = {}
        # one process hosts every function: the union of their variables (the template never gives one
        # name two values; a clash would be reported here)
        for logical in self.specs:
            for key, value in function_environment(self.names, logical, self.template, parameters).items():
                if key in env and env[key] != value:
                    logger.warning("%s sets %s differently from another function", logical, key)
                env[key] = value
        env.update(FAKE_CREDENTIALS)
        env.update(
            {
                "DYNAMODB_ENDPOINT_URL": self.endpoint_url,
                "SQS_ENDPOINT_URL": self.endpoint_url,
                "SNS_ENDPOINT_URL": self.endpoint_url,
                "KMS_ENDPOINT_URL": self.endpoint_url,
                # local only: webhooks on this machine (http://127.0.0.1:...) may receive the alerts
                "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
                "SECRETSMANAGER_ENDPOINT_URL": self.endpoint_url,
                "POWERTOOLS_SERVICE_NAME": env.get("POWERTOOLS_SERVICE_NAME", self.config.prefix),
                "POWERTOOLS_METRICS_NAMESPACE": env.get("POWERTOOLS_METRICS_NAMESPACE", "Autopilot"),
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
                "POWERTOOLS_LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
                # the dashboard signs in through the gateway's local OAuth server (same origin)
                "WEB_API_BASE": "",
                "WEB_AUTH_MODE": "local",
                "WEB_AUTHORIZE_URL": "/_local/oauth/authorize",
                "WEB_TOKEN_URL": "/_local/oauth/token",
                "WEB_LOGOUT_URL": "/_local/oauth/logout",
                "WEB_CLIENT_ID": LOCAL_CLIENT_ID,
                "WEB_SCOPES": "openid",
            }
        )
        env.update(self.config.extra_env)
        return env

    def _apply_environment(self) -> None:
        from engine.clock import set_now_source
        from engine.settings import reset_settings

        self._saved_env = {key: os.environ.get(key) for key in self.environment}
        os.environ.update(self.environment)
        reset_settings()  # handlers read settings at call time: make them see this stack
        with contextlib.suppress(ImportError):
            from engine.storage.dynamo import reset_clients

            reset_clients()
        with contextlib.suppress(ImportError):
            from engine.storage.tokens import reset_signing_keys

            reset_signing_keys()
        set_now_source(self.clock.now)

    def _restore_environment(self) -> None:
        if not self._saved_env:
            return
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        from engine.clock import set_now_source
        from engine.settings import reset_settings

        reset_settings()
        set_now_source(None)

    def _load_handlers(self) -> None:
        """Import the real handlers now that the environment is set (Powertools reads it at import); a
        handler that does not import yet is reported and its function answers errors."""
        for logical, function in self.functions.items():
            if logical in self.config.handlers:
                continue
            try:
                if function.spec.module in sys.modules:
                    # a new stack is a cold start: module-level clients and caches (a market data client
                    # pointing at the previous stack's server) must not carry over within one process
                    importlib.reload(sys.modules[function.spec.module])
                else:
                    importlib.import_module(function.spec.module)
            except ImportError as exc:
                logger.warning("%s: handler %s not importable (%s)", logical, function.spec.module, exc)

    def _invoke_by_id(self, logical_id: str, event: dict[str, Any]) -> Any:
        return self.functions[logical_id].invoke(
            event, request_id=event.get("requestContext", {}).get("requestId")
        )

    # -- event sources from the template's Events

    def _wire_event_sources(self, state: Path) -> None:
        assert self.names is not None
        names = self.names
        for logical, res in resources_of_type(self.template, "AWS::Serverless::Function").items():
            function = self.functions[logical]
            for event_name, event in (res["Properties"].get("Events") or {}).items():
                props = event.get("Properties", {})
                kind = event.get("Type")
                if kind == "Schedule":
                    self.ticker = Ticker(
                        self.clock, function.invoke, f"{self.config.prefix}-{logical}{event_name}"
                    )
                elif kind == "DynamoDB":
                    target = _get_att(props.get("Stream"))
                    assert target is not None, "the stream mapping names its table with GetAtt"
                    destination = _get_att(
                        props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                    )
                    mapping = StreamMapping(
                        stream_arn=names.streams[target[0]],
                        batch_size=int(props.get("BatchSize", 100)),
                        filters=[
                            json.loads(f["Pattern"])
                            for f in props.get("FilterCriteria", {}).get("Filters", [])
                        ],
                        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                        bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in props.get("FunctionResponseTypes", []),
                        on_failure_queue_url=names.queues.get(destination[0]) if destination else None,
                    )
                    self.stream_poller = StreamPoller(
                        self.session.client("dynamodbstreams", endpoint_url=self.endpoint_url),
                        mapping,
                        function.invoke,
                        state_path=state / f"stream-positions-{logical}.json",
                        sqs_client=self.session.client("sqs", endpoint_url=self.endpoint_url),
                        now=self.clock.now,
                    )
                elif kind == "SQS":
                    target = _get_att(props.get("Queue"))
                    assert target is not None, "the queue mapping names its queue with GetAtt"
                    poller = QueuePoller(
                        self.session.client("sqs", endpoint_url=self.endpoint_url),
                        QueueMapping(
                            queue_url=names.queues[target[0]],
                            queue_arn=names.queue_arns[target[0]],
                            batch_size=int(props.get("BatchSize", 10)),
                            report_batch_item_failures="ReportBatchItemFailures"
                            in props.get("FunctionResponseTypes", []),
                        ),
                        function.invoke,
                    )
                    self.queue_pollers[target[0]] = poller
                    if target[0] == "ExecutionQueue":
                        self.queue_poller = poller

    @property
    def other_queue_pollers(self) -> list[QueuePoller]:
        """The pollers of the queues other than the ExecutionQueue (the BacktestQueue's worker)."""
        return [p for logical, p in sorted(self.queue_pollers.items()) if logical != "ExecutionQueue"]

    def drain_backtests(self) -> int:
        """Deliver the BacktestQueue until it is empty (each chunk queues the next): a driven stack's way to
        run its backtests to completion."""
        poller = self.queue_pollers.get("BacktestQueue")
        return poller.drain(max_batches=100_000) if poller is not None else 0

    # -- use

    @property
    def api_url(self) -> str:
        assert self.gateway_server is not None, "the stack is not started"
        return self.gateway_server.url

    def dashboard_url(self, user: str, hours: float = 24) -> str:
        """A ready-to-open dashboard URL signed in as `user` (local only: the app takes `#access_token`)."""
        return f"{self.api_url}/app#access_token={self.token(user, hours)}"

    def token(self, user: str, hours: float = 24) -> str:
        return self.issuer.issue(user, hours=hours)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def step(self, minute: datetime, *, deliver_stream: bool = True) -> None:
        """One driven minute: move the clock, send that minute's scheduled event, then deliver the queue and
        (unless told not to) the stream until both are quiet: the demo's synchronous stand-in for the threads.
        Records left on the stream wait for a later step, as they would for Lambda's batching window."""
        assert self.ticker and self.queue_poller and self.stream_poller
        if isinstance(self.clock, FastClock) and minute > self.clock.now():
            self.clock.set(minute)
        self.ticker.tick(minute)
        self._drain_queues()
        if deliver_stream:
            self.stream_poller.drain()

    def settle(self) -> None:
        """Deliver whatever the queue and the stream hold now."""
        assert self.queue_poller and self.stream_poller
        self._drain_queues()
        self.stream_poller.drain()

    def _drain_queues(self) -> None:
        # the ExecutionQueue first: the runs it holds may queue alerts for the webhook queue
        assert self.queue_poller is not None
        self.queue_poller.drain()
        for poller in self.queue_pollers.values():
            if poller is not self.queue_poller:
                poller.drain()


@contextlib.contextmanager
def handler_output(path: Path) -> Iterator[TextIO]:
    """Send what the functions print (Powertools JSON logs, EMF metric lines: CloudWatch's share) to `path`
    for the duration; yields the console stream for the stack's own messages. Process-wide, because the
    handlers run in-process and print to sys.stdout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    console = sys.stdout
    with path.open("a", buffering=1) as log, contextlib.redirect_stdout(log):
        yield console


# -- `python -m local.stack`


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.stack", description="Run the Autopilot local stack."
    )
    parser.add_argument("--api-port", type=int, default=_env_int("AUTOPILOT_API_PORT", DEFAULT_API_PORT))
    parser.add_argument("--moto-port", type=int, default=_env_int("AUTOPILOT_MOTO_PORT", DEFAULT_MOTO_PORT))
    parser.add_argument(
        "--moto-url",
        default=os.environ.get("AUTOPILOT_MOTO_URL"),
        help="use a running moto server (its resources are reused when present)",
    )
    parser.add_argument("--polymarket-port", type=int, default=_env_int("AUTOPILOT_POLYMARKET_PORT", 0))
    parser.add_argument("--prefix", default=os.environ.get("AUTOPILOT_PREFIX", "autopilot-local"))
    parser.add_argument("--users", default="alice,bob", help="local users to print tokens for")
    parser.add_argument("--verbose", action="store_true", help="handler logs at INFO and EMF metric lines")
    parser.add_argument(
        "--start",
        help="run at real speed from this instant, e.g. 2026-02-07T12:50:00Z (the recorded data's time)",
    )
    return parser.parse_args(argv)


def banner(stack: LocalStack, users: list[str]) -> str:
    url = stack.api_url
    market_url = stack.polymarket.url if stack.polymarket else os.environ.get("POLYMARKET_GAMMA_URL")
    lines = [
        "Autopilot local stack is up (Ctrl-C stops it).",
        f"  API            {url}",
        f"  moto           {stack.endpoint_url}",
        f"  Polymarket     {market_url} (recorded data)",
        f"  Clock          {stack.clock.now().strftime('%Y-%m-%dT%H:%M:%SZ')} (real speed)",
        "",
        "Development tokens (valid 24 h; a new stack signs with a new key):",
    ]
    tokens = {user: stack.token(user) for user in users}
    for user, token in tokens.items():
        lines.append(f"  {user:<6} {token}")
    lines += ["", f"Dashboard: {url}/app (sign in by picking a user), or ready to open:"]
    lines += [f"  {user:<6} {url}/app#access_token={token}" for user, token in tokens.items()]
    first = users[0]
    lines += [
        "",
        "Try:",
        f"  export AUTOPILOT_API_URL={url}",
        f"  export AUTOPILOT_TOKEN=$(curl -s '{url}/_local/token?user={first}' | python -c 'import json,sys; "
        'print(json.load(sys.stdin)["token"])\')',
        f'  curl -s -H "Authorization: Bearer $AUTOPILOT_TOKEN" {url}/strategies',
        "  autopilot strategies create --file local/samples/design_example.json",
        "  autopilot deploy <ID> --bankroll 1000 --frequency 5m --auto-start",
        "  autopilot executions <ID>; autopilot portfolio <ID>",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    config = StackConfig(
        prefix=args.prefix,
        api_port=args.api_port,
        moto_port=args.moto_port,
        moto_url=args.moto_url,
        polymarket_port=args.polymarket_port,
        quiet=not args.verbose,
    )
    log_path = STATE_DIR / args.prefix / "functions.log"
    clock: Clock = OffsetClock(parse_instant(args.start)) if args.start else RealClock()
    try:
        output = handler_output(log_path) if not args.verbose else contextlib.nullcontext(sys.stdout)
        with output as console, LocalStack(config, clock=clock) as stack:
            print(banner(stack, [u for u in args.users.split(",") if u]), file=console, flush=True)
            if not args.verbose:
                print(f"\nFunction logs and metrics (CloudWatch's share): tail -f {log_path}", file=console)
            while not stop.wait(1.0):
                pass
            print("\nstopping...", file=sys.stderr, flush=True)
    except OSError as exc:
        print(f"local stack failed to start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
