"""Policies template.yaml must keep that cfn-lint does not check: bounded functions, dead letters, least
privilege, protected tables, a throttled and authenticated API declaring every route of the contract."""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.settings import Settings
from local.infra import Names, function_environment, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
TABLES = resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")
QUEUES = resources_of_type(TEMPLATE, "AWS::SQS::Queue")

# DESIGN section 4: the public routes, each served once by the control API.
DESIGN_ROUTES = {
    ("POST", "/strategies"),
    ("GET", "/strategies"),
    ("GET", "/strategies/{id}"),
    ("PATCH", "/strategies/{id}"),
    ("DELETE", "/strategies/{id}"),
    *{
        ("POST", f"/strategies/{{id}}/{action}")
        for action in ("deploy", "start", "pause", "stop", "resume", "run")
    },
    *{("GET", f"/strategies/{{id}}/{view}") for view in ("executions", "trades", "portfolio", "performance")},
    # DESIGN sections 10 and 11 (issue 14)
    ("GET", "/portfolio"),
    ("GET", "/portfolio/performance"),
    ("GET", "/strategies/compare"),
    ("PUT", "/risk-limits"),
    ("GET", "/risk-limits"),
    ("POST", "/kill-switch"),
    ("DELETE", "/kill-switch"),
}


def _props(logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = RESOURCES[logical_id].get("Properties", {})
    return props


def _events(function_id: str, kind: str) -> dict[str, dict[str, Any]]:
    events = _props(function_id).get("Events", {})
    return {name: ev["Properties"] for name, ev in events.items() if ev["Type"] == kind}


def _role_of(function_id: str) -> str:
    role = _props(function_id)["Role"]
    assert isinstance(role, dict) and list(role) == ["Fn::GetAtt"], (
        f"{function_id} role is not a template role"
    )
    assert role["Fn::GetAtt"][1] == "Arn"
    logical: str = role["Fn::GetAtt"][0]
    return logical


def _statements(role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in _props(role_id).get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _referenced_ids(value: Any) -> Iterator[str]:
    """Logical ids a policy resource points at (Ref, GetAtt, ${X.Arn} inside Sub)."""
    if isinstance(value, dict):
        if "Ref" in value:
            yield value["Ref"]
        elif "Fn::GetAtt" in value:
            yield value["Fn::GetAtt"][0]
        elif "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            yield text.split("${", 1)[1].split(".", 1)[0].split("}", 1)[0]


def _granted(function_id: str) -> dict[str, set[str]]:
    """Logical resource id -> the actions the function's role allows on it."""
    grants: dict[str, set[str]] = {}
    for statement in _statements(_role_of(function_id)):
        for resource in _as_list(statement["Resource"]):
            for logical in _referenced_ids(resource):
                grants.setdefault(logical, set()).update(_as_list(statement["Action"]))
    return grants


def _every_policy_statement() -> Iterator[tuple[str, dict[str, Any]]]:
    for logical, res in RESOURCES.items():
        props = res.get("Properties", {})
        for policy in props.get("Policies", []) if res["Type"] == "AWS::IAM::Role" else []:
            for statement in policy["PolicyDocument"]["Statement"]:
                yield logical, statement
        for statement in props.get("KeyPolicy", {}).get("Statement", []):
            yield logical, statement
        for policy in props.get("Policies", []) if res["Type"] == "AWS::Serverless::Function" else []:
            if isinstance(policy, dict) and "Statement" in policy:
                yield from ((logical, statement) for statement in policy["Statement"])


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_every_function_logs_to_its_own_log_group_with_retention_and_waits_for_it(function_id: str) -> None:
    # Given
    props = _props(function_id)
    name = props["FunctionName"]["Fn::Sub"]
    # When
    groups = [
        logical
        for logical, res in resources_of_type(TEMPLATE, "AWS::Logs::LogGroup").items()
        if res["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{name}"}
    ]
    # Then
    assert len(groups) == 1, f"{function_id} needs exactly one /aws/lambda/{name} log group"
    assert _props(groups[0])["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert groups[0] in _as_list(FUNCTIONS[function_id].get("DependsOn", []))


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_every_function_has_a_bounded_timeout_and_explicit_memory(function_id: str) -> None:
    # Given
    props = _props(function_id)
    # When
    timeout, memory = props.get("Timeout"), props.get("MemorySize")
    # Then
    assert isinstance(timeout, int) and 1 <= timeout <= 900
    assert isinstance(memory, int) and 128 <= memory <= 10240
    if _events(function_id, "HttpApi"):
        assert timeout <= 28, "API Gateway answers 503 after 29 s: the function must end first"


def test_the_cron_is_an_eventbridge_rule_every_minute_ending_before_the_next_tick() -> None:
    # Given
    (schedule,) = _events("CronExecutorFunction", "Schedule").values()
    # When
    timeout = _props("CronExecutorFunction")["Timeout"]
    # Then
    assert schedule["Schedule"] == "rate(1 minute)"
    assert timeout <= 60


def test_the_stream_mapping_cannot_be_blocked_by_a_poison_record() -> None:
    # Given
    (stream,) = _events("PortfolioStreamFunction", "DynamoDB").values()
    # When
    on_failure = stream["DestinationConfig"]["OnFailure"]["Destination"]
    # Then
    assert stream["Stream"] == {"Fn::GetAtt": ["TradesTable", "StreamArn"]}
    assert stream["StartingPosition"] == "TRIM_HORIZON"
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["BisectBatchOnFunctionError"] is True
    assert 0 <= stream["MaximumRetryAttempts"] <= 10
    assert 60 <= stream["MaximumRecordAgeInSeconds"] <= 86400
    assert 1 <= stream["BatchSize"] <= 100
    assert on_failure == {"Fn::GetAtt": ["PortfolioStreamDLQ", "Arn"]}
    assert "PortfolioStreamDLQ" in QUEUES


def test_every_consumed_queue_redrives_to_a_dead_letter_queue_after_a_few_receives() -> None:
    # Given
    consumed = {
        ev["Queue"]["Fn::GetAtt"][0]
        for function_id in FUNCTIONS
        for ev in _events(function_id, "SQS").values()
    }
    # When
    redrives = {queue: _props(queue).get("RedrivePolicy") for queue in consumed}
    # Then
    assert consumed == {"ExecutionQueue"}
    for queue, redrive in redrives.items():
        assert redrive is not None, f"{queue} has no dead-letter queue"
        target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert target in QUEUES and target not in consumed
        assert 1 <= int(redrive["maxReceiveCount"]) <= 5


def test_the_worker_queue_hides_a_message_longer_than_the_worker_can_run() -> None:
    # Given
    (event,) = _events("ExecutionWorkerFunction", "SQS").values()
    queue = event["Queue"]["Fn::GetAtt"][0]
    # When
    visibility = _props(queue)["VisibilityTimeout"]
    worker_timeout = _props("ExecutionWorkerFunction")["Timeout"]
    # Then
    assert visibility >= 6 * worker_timeout
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= event["BatchSize"] <= 10


def test_every_queue_and_the_topic_are_encrypted() -> None:
    # Given
    topic = _props("NotificationsTopic")
    # When / Then
    for queue in QUEUES:
        assert _props(queue).get("SqsManagedSseEnabled") is True, queue
    assert topic["KmsMasterKeyId"] == {"Ref": "NotificationsKey"}


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_every_function_uses_its_own_template_role_so_sam_adds_no_managed_policies(function_id: str) -> None:
    # Given
    props = _props(function_id)
    # When
    role = _role_of(function_id)
    # Then
    assert "Policies" not in props
    assert RESOURCES[role]["Type"] == "AWS::IAM::Role"
    assert sum(_role_of(other) == role for other in FUNCTIONS) == 1, "roles are not shared"


def test_policy_statements_name_specific_resources_and_explain_every_wildcard() -> None:
    # Given
    statements = list(_every_policy_statement())
    # When
    wildcards = [(logical, s) for logical, s in statements if "*" in _as_list(s.get("Resource", []))]
    # Then
    assert statements
    for logical, statement in wildcards:
        reason = statement.get("Sid", "") + str(RESOURCES[logical].get("Metadata", {}))
        assert "Wildcard" in reason, f"{logical}: a '*' resource without the reason AWS requires it"
    for logical, statement in statements:
        if RESOURCES[logical]["Type"] == "AWS::KMS::Key":
            continue  # a key policy's "*" means the key itself
        assert all("*" not in action for action in _as_list(statement["Action"])), (logical, statement)


def test_only_actions_without_resource_level_permissions_use_a_wildcard_resource() -> None:
    # Given
    allowed = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}
    # When
    wildcard_actions = {
        action
        for function_id in FUNCTIONS
        for statement in _statements(_role_of(function_id))
        if "*" in _as_list(statement["Resource"])
        for action in _as_list(statement["Action"])
    }
    # Then
    assert wildcard_actions <= allowed


@pytest.mark.parametrize(
    ("function_id", "expected"),
    [
        (
            "ControlApiFunction",
            {"StrategiesTable", "ExecutionLogsTable", "TradesTable", "PortfoliosTable", "IdempotencyTable"},
        ),
        (
            "CronExecutorFunction",
            {
                "StrategiesTable",
                "ExecutionLogsTable",
                "TradesTable",
                "PortfoliosTable",
                "ExecutionQueue",
                "NotificationsTopic",
                "NotificationsKey",
            },
        ),
        (
            "ExecutionWorkerFunction",
            {
                "StrategiesTable",
                "ExecutionLogsTable",
                "TradesTable",
                "PortfoliosTable",
                "ExecutionQueue",
                "NotificationsTopic",
                "NotificationsKey",
            },
        ),
        (
            "PortfolioStreamFunction",
            # the notifications topic and its key: the drawdown limit's kill switch tells the owner (issue 14)
            {
                "TradesTable",
                "PortfoliosTable",
                "StrategiesTable",
                "PortfolioStreamDLQ",
                "NotificationsTopic",
                "NotificationsKey",
            },
        ),
    ],
)
def test_each_function_role_reaches_only_the_resources_it_uses(function_id: str, expected: set[str]) -> None:
    # Given
    own_log_group = _props(function_id)["FunctionName"]["Fn::Sub"]
    # When
    grants = _granted(function_id)
    log_groups = {g for g in grants if RESOURCES.get(g, {}).get("Type") == "AWS::Logs::LogGroup"}
    # Then
    assert set(grants) - log_groups == expected
    assert len(log_groups) == 1
    assert _props(log_groups.pop())["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{own_log_group}"}


def test_the_overflow_queue_is_sent_to_only_by_the_cron_and_consumed_only_by_the_worker() -> None:
    # Given
    grants = {function_id: _granted(function_id).get("ExecutionQueue", set()) for function_id in FUNCTIONS}
    # When
    senders = {f for f, actions in grants.items() if "sqs:SendMessage" in actions}
    receivers = {f for f, actions in grants.items() if "sqs:ReceiveMessage" in actions}
    # Then
    assert senders == {"CronExecutorFunction"}
    assert receivers == {"ExecutionWorkerFunction"}


def test_the_stream_function_only_updates_strategies_and_never_writes_trades() -> None:
    # Given
    grants = _granted("PortfolioStreamFunction")
    # When
    trade_writes = {a for a in grants["TradesTable"] if a.endswith(("PutItem", "UpdateItem", "DeleteItem"))}
    # Then
    # GetItem: the account-wide view reads the strategy's owner and name; Query (by_owner): the drawdown
    # limit's kill switch pauses the owner's strategies (issue 14); still no other write
    assert grants["StrategiesTable"] == {"dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query"}
    assert trade_writes == set()


def test_index_grants_name_the_table_indexes() -> None:
    # Given
    statements = [s for f in FUNCTIONS for s in _statements(_role_of(f))]
    # When
    index_resources = [
        r["Fn::Sub"]
        for s in statements
        for r in _as_list(s["Resource"])
        if isinstance(r, dict) and "Fn::Sub" in r
    ]
    # Then
    assert index_resources
    for resource in index_resources:
        table, index = resource.split(".Arn}/index/")
        table_id = table.removeprefix("${")
        assert table_id in TABLES
        props = _props(table_id)
        declared = {
            i["IndexName"]
            for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
            for i in props.get(key, [])
        }
        assert index == "*" or index in declared, f"{resource} names no index of {table_id}"


@pytest.mark.parametrize("table_id", sorted(TABLES))
def test_every_table_is_encrypted_with_point_in_time_recovery(table_id: str) -> None:
    # Given
    props = _props(table_id)
    # When / Then
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_deletion_protection_follows_the_parameter_and_is_on_in_prod_only() -> None:
    # Given
    samconfig = tomllib.loads((ROOT / "samconfig.toml").read_text())
    # Idempotency records live an hour; losing the table loses nothing a client relies on.
    data_tables = set(TABLES) - {"IdempotencyTable"}
    # When
    prod = samconfig["prod"]["deploy"]["parameters"]["parameter_overrides"].split()
    dev = samconfig["dev"]["deploy"]["parameters"]["parameter_overrides"].split()
    # Then
    for table_id in data_tables:
        assert _props(table_id)["DeletionProtectionEnabled"] == {"Ref": "DeletionProtection"}, table_id
    assert _props("UserPool")["DeletionProtection"] == {
        "Fn::If": ["DeletionProtectionOn", "ACTIVE", "INACTIVE"]
    }
    assert TEMPLATE["Parameters"]["DeletionProtection"]["Default"] == "false"
    assert "DeletionProtection=true" in prod and "Stage=prod" in prod and "LogRetentionDays=90" in prod
    assert "DeletionProtection=true" not in dev


def test_samconfig_deploys_dev_and_prod_as_separate_reviewed_stacks() -> None:
    # Given
    samconfig = tomllib.loads((ROOT / "samconfig.toml").read_text())
    # When
    dev, prod = samconfig["dev"]["deploy"]["parameters"], samconfig["prod"]["deploy"]["parameters"]
    # Then
    assert samconfig["version"] == 0.1
    assert (dev["stack_name"], prod["stack_name"]) == ("autopilot-dev", "autopilot-prod")
    assert prod["confirm_changeset"] is True
    for env in (dev, prod):
        assert env["resolve_s3"] is True
        assert "CAPABILITY_IAM" in env["capabilities"].split()
    assert samconfig["default"]["validate"]["parameters"]["lint"] is True
    assert samconfig["default"]["build"]["parameters"] == {"cached": True, "parallel": True}


def test_the_http_api_is_throttled_and_requires_a_jwt_by_default() -> None:
    # Given
    api = _props("HttpApi")
    # When
    auth, throttling = api["Auth"], api["DefaultRouteSettings"]
    jwt = auth["Authorizers"][auth["DefaultAuthorizer"]]
    # Then
    assert throttling["ThrottlingRateLimit"] == {"Ref": "ThrottleRate"}
    assert throttling["ThrottlingBurstLimit"] == {"Ref": "ThrottleBurst"}
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    assert jwt["JwtConfiguration"]["issuer"]["Fn::If"][0] == "UseExternalIssuer"
    assert api["CorsConfiguration"]["AllowOrigins"] == {"Ref": "CorsAllowOrigins"}
    assert TEMPLATE["Parameters"]["CorsAllowOrigins"]["Type"] == "CommaDelimitedList"


def test_no_route_opts_out_of_the_default_authorizer() -> None:
    # Given
    events = [ev for f in FUNCTIONS for ev in _events(f, "HttpApi").values()]
    # When
    opted_out = [ev for ev in events if "Auth" in ev]
    # Then
    assert events and opted_out == []


def test_every_route_of_the_contract_is_declared_exactly_once_on_the_control_api() -> None:
    # Given
    declared = [
        (ev["Method"].upper(), ev["Path"], function_id, ev["ApiId"], ev.get("PayloadFormatVersion"))
        for function_id in FUNCTIONS
        for ev in _events(function_id, "HttpApi").values()
    ]
    # When
    counts = Counter((method, path) for method, path, *_ in declared)
    # Then
    assert set(counts) == DESIGN_ROUTES
    assert all(count == 1 for count in counts.values())
    assert {(f, api["Ref"], version) for *_, f, api, version in declared} == {
        ("ControlApiFunction", "HttpApi", "2.0")
    }


def test_the_template_sets_only_variables_the_engine_or_powertools_read() -> None:
    # Given
    known = {field.alias for field in Settings.model_fields.values()} | {"LOG_LEVEL"}
    variables = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    for function_id in FUNCTIONS:
        variables |= set(_props(function_id).get("Environment", {}).get("Variables", {}))
    # When
    unknown = {v for v in variables if v not in known and not v.startswith("POWERTOOLS_")}
    # Then
    assert unknown == set()


@pytest.mark.parametrize(
    ("function_id", "needs"),
    [
        (
            "ControlApiFunction",
            {
                "STRATEGIES_TABLE",
                "EXECUTIONS_TABLE",
                "TRADES_TABLE",
                "PORTFOLIOS_TABLE",
                "IDEMPOTENCY_TABLE",
                "STRATEGY_QUOTA",
            },
        ),
        (
            "CronExecutorFunction",
            {
                "STRATEGIES_TABLE",
                "EXECUTIONS_TABLE",
                "TRADES_TABLE",
                "PORTFOLIOS_TABLE",
                "DUE_SHARDS",
                "EXECUTION_QUEUE_URL",
                "NOTIFICATIONS_TOPIC_ARN",
                "POLYMARKET_GAMMA_URL",
                "POLYMARKET_CLOB_URL",
                "EXECUTION_LOG_TTL_DAYS",
            },
        ),
        (
            "ExecutionWorkerFunction",
            {
                "STRATEGIES_TABLE",
                "EXECUTIONS_TABLE",
                "TRADES_TABLE",
                "PORTFOLIOS_TABLE",
                "NOTIFICATIONS_TOPIC_ARN",
                "POLYMARKET_GAMMA_URL",
                "POLYMARKET_CLOB_URL",
            },
        ),
        ("PortfolioStreamFunction", {"STRATEGIES_TABLE", "TRADES_TABLE", "PORTFOLIOS_TABLE"}),
    ],
)
def test_function_environment_resolves_what_each_function_reads_to_local_names(
    function_id: str, needs: set[str]
) -> None:
    # Given
    tables = {logical: f"local-{logical}" for logical in TABLES}
    names = Names(
        prefix="local",
        tables=tables,
        queues={q: f"http://127.0.0.1/queue/{q}" for q in QUEUES},
        topics={"NotificationsTopic": "arn:aws:sns:us-east-1:123456789012:local-NotificationsTopic"},
    )
    # When
    env = function_environment(names, function_id, TEMPLATE)
    # Then
    assert needs <= set(env)
    assert env["STRATEGIES_TABLE"] == "local-StrategiesTable"
    assert env["POWERTOOLS_SERVICE_NAME"] == "local"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Autopilot"
    assert "TOKEN_SIGNING_KEY" not in env, "a secret only AWS resolves is left for the local stack to set"
    if function_id == "CronExecutorFunction":
        assert env["EXECUTION_QUEUE_URL"] == "http://127.0.0.1/queue/ExecutionQueue"


def test_alarms_cover_errors_backlog_dead_letters_and_lag_and_notify_the_topic() -> None:
    # Given
    alarms = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
    # When
    watched = {
        (p["Namespace"], p["MetricName"], str(p["Dimensions"][0]["Value"]))
        for p in (a["Properties"] for a in alarms.values())
    }
    # Then
    for function_id in FUNCTIONS:
        assert ("AWS/Lambda", "Errors", str({"Ref": function_id})) in watched
    assert (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        str({"Fn::GetAtt": ["ExecutionQueue", "QueueName"]}),
    ) in watched
    for dlq in ("ExecutionDLQ", "PortfolioStreamDLQ"):
        assert (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            str({"Fn::GetAtt": [dlq, "QueueName"]}),
        ) in watched
    assert ("Autopilot", "SchedulingLagSeconds", str({"Ref": "AWS::StackName"})) in watched
    assert _props("SchedulingLagAlarm")["Threshold"] == {"Ref": "SchedulingLagAlarmSeconds"}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "NotificationsTopic"}]


def test_the_dashboard_shows_every_tick_metric_and_the_function_errors() -> None:
    # Given
    body, _ = _props("Dashboard")["DashboardBody"]["Fn::Sub"]
    # When
    documented = TEMPLATE["Metadata"]["Autopilot::Metrics"]["CronExecutor"]
    # Then
    assert set(documented) == {
        "Due",
        "Executed",
        "Failed",
        "TimedOut",
        "Deferred",
        "SkippedSlots",
        "TickDurationMs",
        "SchedulingLagSeconds",
    }
    for metric in documented:
        assert f'"{metric}"' in body
    for function_id in FUNCTIONS:
        assert "${" + function_id + "}" in body


def test_saved_queries_are_scoped_to_the_run_log_groups() -> None:
    # Given
    queries = resources_of_type(TEMPLATE, "AWS::Logs::QueryDefinition")
    # When
    scopes = {logical: {g["Ref"] for g in q["Properties"]["LogGroupNames"]} for logical, q in queries.items()}
    # Then
    assert set(scopes) == {"FailedRunsByStrategyQuery", "SlowestStrategiesQuery", "AutoPausedStrategiesQuery"}
    for groups in scopes.values():
        assert {"CronExecutorLogGroup", "ExecutionWorkerLogGroup"} <= groups
    assert "stats count(*) as failures" in _props("FailedRunsByStrategyQuery")["QueryString"]
    assert "by strategy_id" in _props("SlowestStrategiesQuery")["QueryString"]
    assert "auto_paused" in _props("AutoPausedStrategiesQuery")["QueryString"]


def test_the_engine_layer_is_built_by_sam_for_the_functions_runtime_and_architecture() -> None:
    # Given
    layer = RESOURCES["EngineLayer"]
    globals_ = TEMPLATE["Globals"]["Function"]
    # When / Then
    assert layer["Properties"]["ContentUri"] == "layers/engine"
    assert layer["Metadata"]["BuildMethod"] == globals_["Runtime"] == "python3.11"
    assert layer["Properties"]["CompatibleArchitectures"] == globals_["Architectures"]
    assert globals_["Layers"] == [{"Ref": "EngineLayer"}]
    assert globals_["Tracing"] == "Active"
    for function_id in FUNCTIONS:
        code = ROOT / _props(function_id)["CodeUri"]
        assert (code / "requirements.txt").is_file(), f"{code} needs a requirements.txt for sam build"
