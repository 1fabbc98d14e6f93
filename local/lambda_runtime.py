"""The template's functions as in-process callables: handler located from CodeUri + Handler, a Lambda-like
context (remaining time from the function's Timeout), and one invocation at a time per function, as one
Lambda execution environment runs one event at a time (Powertools' resolver keeps the current event on a
module-level object, so concurrent calls into one handler module would mix requests)."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.infra import load_template, resources_of_type

Handler = Callable[[dict[str, Any], Any], Any]
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class FunctionSpec:
    """What the template says about one function, resolved for a local stack named `prefix`."""

    logical_id: str
    module: str  # e.g. functions.control_api.app
    attribute: str  # e.g. lambda_handler
    function_name: str
    timeout_seconds: int
    memory_mb: int

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"


def function_specs(prefix: str, template: dict[str, Any] | None = None) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function of the template, by logical id."""
    template = template or load_template()
    globals_ = template.get("Globals", {}).get("Function", {})
    specs: dict[str, FunctionSpec] = {}
    for logical, res in resources_of_type(template, "AWS::Serverless::Function").items():
        props = res["Properties"]
        code_uri = str(props["CodeUri"]).strip("/")
        handler = str(props.get("Handler", globals_.get("Handler", "app.lambda_handler")))
        file_module, attribute = handler.rsplit(".", 1)
        name = props.get("FunctionName")
        # FunctionName is `!Sub ${AWS::StackName}-<suffix>`: keep the suffix, the prefix plays the stack name
        if isinstance(name, dict) and "Fn::Sub" in name:
            function_name = str(name["Fn::Sub"]).replace("${AWS::StackName}", prefix)
        else:
            function_name = f"{prefix}-{logical}"
        specs[logical] = FunctionSpec(
            logical_id=logical,
            module=f"{code_uri.replace('/', '.')}.{file_module}",
            attribute=attribute,
            function_name=function_name,
            timeout_seconds=int(props.get("Timeout", globals_.get("Timeout", 3))),
            memory_mb=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        )
    return specs


class FakeLambdaContext:
    """The attributes Powertools and the handlers read from a Lambda context; remaining time counts down
    from the function's Timeout in real (monotonic) time, as in Lambda."""

    def __init__(self, spec: FunctionSpec, request_id: str | None = None) -> None:
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.function_name}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One function: its handler (imported on first use, after the stack set the environment, or given),
    invoked with a fresh context, one event at a time."""

    def __init__(self, spec: FunctionSpec, handler: Handler | None = None) -> None:
        self.spec = spec
        self._handler = handler
        self._lock = threading.Lock()
        self.invocations = 0
        self.errors = 0

    def handler(self) -> Handler:
        if self._handler is None:
            module = importlib.import_module(self.spec.module)
            self._handler = getattr(module, self.spec.attribute)
        return self._handler

    def invoke(self, event: dict[str, Any], *, request_id: str | None = None) -> Any:
        handler = self.handler()
        with self._lock:
            self.invocations += 1
            try:
                return handler(event, FakeLambdaContext(self.spec, request_id))
            except Exception:
                self.errors += 1
                raise
