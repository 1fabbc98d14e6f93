"""Policies template.yaml must keep that cfn-lint does not check: bounded functions, dead letters, least
privilege, protected tables, a throttled and authenticated API declaring every route of the contract."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.settings import Settings
from local.infra import Names, function_environment, load_template, resources_of_type
from tests.support.http import ROUTES

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
TABLES = resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")
QUEUES = resources_of_type(TEMPLATE, "AWS::SQS::Queue")

# DESIGN section 4 and on: the public routes, each served once by the control API.
DESIGN_ROUTES = set(ROUTES)
# The web dashboard's files: served by their own function, outside the JWT authorizer (the app signs in).
WEB_ROUTES = {("GET", "/app"), ("GET", "/app/{proxy+}")}


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
    # BacktestDLQ's own consumer only ends the dead-lettered chunk's backtest: it drops a body naming none,
    # so a message it fails on is a storage failure, retried until it goes through (DESIGN 9)
    dead_letter_consumers = {"BacktestDLQ"}
    assert consumed == {"ExecutionQueue", "WebhookQueue", "BacktestQueue"} | dead_letter_consumers
    for queue, redrive in redrives.items():
        if queue in dead_letter_consumers:
            assert redrive is None and _props("BacktestQueue")["RedrivePolicy"]["deadLetterTargetArn"] == {
                "Fn::GetAtt": [queue, "Arn"]
            }
            continue
        assert redrive is not None, f"{queue} has no dead-letter queue"
        target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert target in QUEUES and (target not in consumed or target in dead_letter_consumers)
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
    assert _props("UserNotificationsTopic")["KmsMasterKeyId"] == {"Ref": "NotificationsKey"}


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
            {
                "StrategiesTable",
                "ExecutionLogsTable",
                "TradesTable",
                "PortfoliosTable",
                "IdempotencyTable",
                "UserSettingsTable",
                "WebhookSecretsKey",
                "WatchlistsTable",
                "BacktestsTable",
                "BacktestQueue",
                "TokenSigningSecret",
            },
        ),
        ("BacktestWorkerFunction", {"BacktestsTable", "BacktestQueue"}),
        ("BacktestDeadLetterFunction", {"BacktestsTable", "BacktestDLQ"}),
        (
            "CronExecutorFunction",
            {
                "StrategiesTable",
                "ExecutionLogsTable",
                "TradesTable",
                "PortfoliosTable",
                "WatchlistsTable",
                "ExecutionQueue",
                "NotificationsTopic",
                "NotificationsKey",
                "UserNotificationsTopic",
                "WebhookQueue",
            },
        ),
        (
            "ExecutionWorkerFunction",
            {
                "StrategiesTable",
                "ExecutionLogsTable",
                "TradesTable",
                "PortfoliosTable",
                "WatchlistsTable",
                "ExecutionQueue",
                "NotificationsTopic",
                "NotificationsKey",
                "UserNotificationsTopic",
                "WebhookQueue",
            },
        ),
        (
            "NotificationWorkerFunction",
            {"WebhookQueue", "UserSettingsTable", "WebhookSecretsKey", "IdempotencyTable"},
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
    condition, cors, off = api["CorsConfiguration"]["Fn::If"]
    assert (condition, off) == ("CorsOn", {"Ref": "AWS::NoValue"})
    assert cors["AllowOrigins"] == {"Ref": "CorsAllowOrigins"}
    assert TEMPLATE["Parameters"]["CorsAllowOrigins"]["Type"] == "CommaDelimitedList"


def test_no_route_opts_out_of_the_default_authorizer() -> None:
    # Given
    events = [ev for f in FUNCTIONS for ev in _events(f, "HttpApi").values()]
    # When
    opted_out = [ev for ev in events if "Auth" in ev and (ev["Method"], ev["Path"]) not in WEB_ROUTES]
    # Then
    assert events and opted_out == []


def test_every_route_of_the_contract_is_declared_exactly_once_on_the_control_api() -> None:
    # Given
    declared = [
        (ev["Method"].upper(), ev["Path"], function_id, ev["ApiId"], ev.get("PayloadFormatVersion"))
        for function_id in FUNCTIONS
        for ev in _events(function_id, "HttpApi").values()
        if ev["Path"] != "$default"
    ]
    # When
    counts = Counter((method, path) for method, path, *_ in declared)
    # Then
    assert set(counts) == DESIGN_ROUTES | WEB_ROUTES
    assert all(count == 1 for count in counts.values())
    assert {(f, api["Ref"], version) for m, p, f, api, version in declared if (m, p) in DESIGN_ROUTES} == {
        ("ControlApiFunction", "HttpApi", "2.0")
    }
    assert {(f, api["Ref"], version) for m, p, f, api, version in declared if (m, p) in WEB_ROUTES} == {
        ("WebStaticFunction", "HttpApi", "2.0")
    }
    web_auth = {ev["Auth"]["Authorizer"] for ev in _events("WebStaticFunction", "HttpApi").values()}
    assert web_auth == {"NONE"}


POLICY_CAP_BYTES = 20 * 1024  # Lambda's resource-based policy limit


def _sam_permissions(function_id: str) -> list[str]:
    """The SourceArn resources SAM writes into the function's policy for its HttpApi events (its rule, in
    samtranslator's HttpApi event source: a `$default` ANY route on the same function makes every other
    route's permission redundant, so none is written for them)."""
    events = _events(function_id, "HttpApi")
    has_default = any(ev["Path"] == "$default" and ev["Method"].upper() == "ANY" for ev in events.values())
    if has_default:
        return ["arn:aws:execute-api:us-east-1:123456789012:abcdefghij/*/*"]
    return [
        f"arn:aws:execute-api:us-east-1:123456789012:abcdefghij/*/{ev['Method'].upper()}"
        + ev["Path"].replace("{id}", "*").replace("{execution_id}", "*")
        for ev in events.values()
    ]


def test_the_control_api_has_one_lambda_permission_for_all_its_routes() -> None:
    # Given the control API's routes, today and three times as many
    function_id = "ControlApiFunction"
    # When SAM's permissions for them are counted, with the size of their policy statements
    arns = _sam_permissions(function_id)
    statement = (
        '{"Sid":"ControlApiFunctionAnyRoutePermission-0123456789ab","Effect":"Allow",'
        '"Principal":{"Service":"apigateway.amazonaws.com"},"Action":"lambda:InvokeFunction",'
        '"Resource":"arn:aws:lambda:us-east-1:123456789012:function:autopilot-prod-control-api",'
        '"Condition":{"ArnLike":{"AWS:SourceArn":"%s"}}}'
    )
    size = sum(len(statement % arn) for arn in arns)
    # Then one permission covers every route (SourceArn <api>/*/*), far under the 20 KB cap
    assert arns == ["arn:aws:execute-api:us-east-1:123456789012:abcdefghij/*/*"]
    assert size < POLICY_CAP_BYTES // 20
    assert len(_events(function_id, "HttpApi")) > 1
    # and the only other function serving routes of this API is the dashboard's static files, with its two
    # routes (`/app` and `/app/{proxy+}`): its own policy holds two statements, whatever the API grows to
    others = {other: _events(other, "HttpApi") for other in FUNCTIONS if other != function_id}
    assert {other for other, events in others.items() if events} == {"WebStaticFunction"}
    assert len(others["WebStaticFunction"]) == 2
    assert not resources_of_type(TEMPLATE, "AWS::Lambda::Permission")


def test_the_template_sets_only_variables_the_engine_or_powertools_read() -> None:
    # Given
    known = {field.alias for field in Settings.model_fields.values()} | {"LOG_LEVEL"}
    variables = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    for function_id in FUNCTIONS:
        variables |= set(_props(function_id).get("Environment", {}).get("Variables", {}))
    # When
    # WEB_*: the dashboard's runtime config, read by functions/web_static
    unknown = {v for v in variables if v not in known and not v.startswith(("POWERTOOLS_", "WEB_"))}
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
        (
            "BacktestWorkerFunction",
            {"BACKTESTS_TABLE", "BACKTEST_QUEUE_URL", "POLYMARKET_GAMMA_URL", "POLYMARKET_CLOB_URL"},
        ),
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
    assert "TOKEN_SIGNING_KEY" not in env, "the signing key is read at run time, never set in the environment"
    if function_id == "CronExecutorFunction":
        assert env["EXECUTION_QUEUE_URL"] == "http://127.0.0.1/queue/ExecutionQueue"


def test_alarms_cover_errors_backlog_dead_letters_and_lag_and_notify_the_topic() -> None:
    # Given
    alarms = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
    # When
    watched = {
        (p["Namespace"], p["MetricName"], str(p["Dimensions"][0]["Value"]))
        for p in (a["Properties"] for a in alarms.values())
        if "Metrics" not in p  # a Metrics Insights alarm names its metric in its query (tested apart)
    }
    # Then
    for function_id in FUNCTIONS:
        assert ("AWS/Lambda", "Errors", str({"Ref": function_id})) in watched
    assert (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        str({"Fn::GetAtt": ["ExecutionQueue", "QueueName"]}),
    ) in watched
    for dlq in ("ExecutionDLQ", "PortfolioStreamDLQ", "WebhookDLQ", "BacktestDLQ"):
        assert (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            str({"Fn::GetAtt": [dlq, "QueueName"]}),
        ) in watched
    assert ("Autopilot", "SchedulingLagSeconds", str({"Ref": "AWS::StackName"})) in watched
    assert _props("SchedulingLagAlarm")["Threshold"] == {"Ref": "SchedulingLagAlarmSeconds"}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "NotificationsTopic"}]


def test_an_internal_error_the_resolver_caught_raises_the_api_alarm() -> None:
    # Given the alarm on the API's own metric (Lambda's Errors never sees a 500 the resolver answered)
    alarm = _props("ControlApiInternalErrorsAlarm")
    # When its query is read
    (metric,) = alarm["Metrics"]
    query = " ".join(metric["Expression"]["Fn::Sub"].split())
    # Then it sums ApiRequests with outcome internal_error over every route of this stack, one is enough
    documented = TEMPLATE["Metadata"]["Autopilot::Metrics"]["ControlApi"]["ApiRequests"]
    assert "route" in documented and "outcome" in documented
    assert query == (
        "SELECT SUM(ApiRequests) FROM SCHEMA(Autopilot, outcome, route, service) "
        "WHERE service = '${AWS::StackName}' AND outcome = 'internal_error'"
    )
    assert metric["ReturnData"] is True
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


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


def test_reserved_concurrency_is_a_parameter_for_the_api_and_the_cron_unreserved_by_default() -> None:
    # Given the two functions a burst must not starve one another
    for function_id, parameter in (
        ("ControlApiFunction", "ControlApiReservedConcurrency"),
        ("CronExecutorFunction", "CronReservedConcurrency"),
    ):
        # When its reserved concurrency is read
        reserved = _props(function_id)["ReservedConcurrentExecutions"]["Fn::If"]
        # Then it is the parameter when set, and nothing reserved at the default 0
        assert reserved[1] == {"Ref": parameter} and reserved[2] == {"Ref": "AWS::NoValue"}
        condition = TEMPLATE["Conditions"][reserved[0]]
        assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, 0]}]}
        assert TEMPLATE["Parameters"][parameter]["Default"] == 0


def test_data_tables_and_the_user_pool_are_retained_when_the_stack_goes_or_replaces_them() -> None:
    # Given / When / Then
    for logical in ("StrategiesTable", "ExecutionLogsTable", "TradesTable", "PortfoliosTable", "UserPool"):
        assert RESOURCES[logical]["DeletionPolicy"] == "Retain", logical
        assert RESOURCES[logical]["UpdateReplacePolicy"] == "Retain", logical


def test_the_cron_and_the_worker_name_the_due_index_only() -> None:
    # Given the roles of the two functions that query the Strategies table's due index
    for function_id in ("CronExecutorFunction", "ExecutionWorkerFunction"):
        # When every resource their statements name is listed
        resources = [
            str(resource)
            for statement in _statements(_role_of(function_id))
            for resource in (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
        ]
        # Then the due index is named, and no index wildcard
        assert str({"Fn::Sub": "${StrategiesTable.Arn}/index/due"}) in resources
        assert not [r for r in resources if "index/*" in r], function_id


def test_cognito_asks_strong_passwords_and_offers_totp() -> None:
    # Given / When
    pool = _props("UserPool")
    policy = pool["Policies"]["PasswordPolicy"]
    # Then
    assert policy["MinimumLength"] >= 14
    assert all(
        policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    )
    assert pool["MfaConfiguration"] == "OPTIONAL" and pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]


def test_cognito_clients_sign_in_with_srp_never_a_plain_password() -> None:
    # Given the CLI's app client and the web app's
    cli_client, web_client = _props("UserPoolClient"), _props("WebAppClient")
    # When their auth flows are read
    flows = {client: _props(client)["ExplicitAuthFlows"] for client in ("UserPoolClient", "WebAppClient")}
    # Then the CLI's signs in with SRP and refreshes, and no client takes a password in the clear
    assert cli_client["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert web_client["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]  # hosted UI + PKCE
    for client, allowed in flows.items():
        assert not {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"} & set(allowed), client
        assert not {"USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"} & set(allowed), client  # the legacy names
    # (nor does the custom resource that sets the web client's OAuth settings turn one back on)
    code = RESOURCES["WebAppClientUrlsFunction"]["Properties"]["Code"]["ZipFile"]
    assert "PASSWORD_AUTH" not in code and 'ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"]' in code


def test_the_stream_writes_only_the_fields_it_maintains_on_strategies() -> None:
    # Given the portfolio stream's statement on the Strategies table
    (statement,) = [
        s
        for s in _statements(_role_of("PortfolioStreamFunction"))
        if s.get("Resource") == {"Fn::GetAtt": ["StrategiesTable", "Arn"]}
        and s["Sid"] == "CopyPnlOntoStrategy"
    ]
    # When its condition is read
    attributes = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
    # Then it may UpdateItem (and read back) those fields only (plus the key and the epoch its condition
    # reads), and no more
    assert statement["Action"] == ["dynamodb:UpdateItem", "dynamodb:GetItem"]
    maintained = {"paper_pnl_usd", "paper_positions_count", "sparkline", "sparkline_at"}
    # (the account-wide view reads the owner and the name; the drawdown kill switch pauses whole strategies
    # under its own statement, KillSwitchPausesStrategies)
    assert set(attributes) == {"strategy_id", "portfolio_epoch", "created_by", "strategy_name", *maintained}
    assert "ALL_OLD" not in statement["Condition"]["StringEqualsIfExists"]["dynamodb:ReturnValues"]
    # and the code reads and writes exactly those fields
    source = (ROOT / "layers/engine/engine/storage/strategies.py").read_text()
    body = source[source.index("def sparkline_of") : source.index("# -- scheduling")]
    assert {"portfolio_epoch", "strategy_id", *maintained} >= set(re.findall(r"expr\.name\('(\w+)'\)", body))


def test_empty_cors_origins_turn_cors_off_and_prod_refuses_a_localhost_origin() -> None:
    # Given the condition on the API's CORS and the rule on prod deployments
    condition = TEMPLATE["Conditions"]["CorsOn"]
    rule = TEMPLATE["Rules"]["NoLocalhostOriginInProd"]
    samconfig = tomllib.loads((ROOT / "samconfig.toml").read_text())
    prod = samconfig["prod"]["deploy"]["parameters"]["parameter_overrides"].split()
    # When the origins the rule refuses are listed
    (assertion,) = rule["Assertions"]
    refused = {c["Fn::Contains"][1] for c in assertion["Assert"]["Fn::Not"][0]["Fn::Or"]}
    # Then CORS is on only with origins, prod refuses localhost ones, and prod's own config passes
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "CorsAllowOrigins"}]}, ""]}]}
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert TEMPLATE["Parameters"]["CorsAllowOrigins"]["Default"] in refused
    assert {"http://localhost:3000", "http://127.0.0.1:3000"} <= refused
    prod_origins = next(p.split("=", 1)[1] for p in prod if p.startswith("CorsAllowOrigins="))
    assert prod_origins.strip("'\"") not in refused


def test_the_signing_key_never_enters_a_function_environment_and_only_the_api_may_read_it() -> None:
    # Given
    secret_ids = set(resources_of_type(TEMPLATE, "AWS::SecretsManager::Secret"))
    # When
    shared = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    environments = {function_id: {**shared, **_environment(function_id)} for function_id in FUNCTIONS}
    readers = {
        function_id
        for function_id in FUNCTIONS
        for statement in _statements(_role_of(function_id))
        if any(str(action).startswith("secretsmanager:") for action in _as_list(statement["Action"]))
    }
    api_grants = [
        statement
        for statement in _statements(_role_of("ControlApiFunction"))
        if any(str(action).startswith("secretsmanager:") for action in _as_list(statement["Action"]))
    ]
    # Then: no value is a dynamic reference to a secret; the API gets the secret's ARN only
    for function_id, env in environments.items():
        assert "resolve:secretsmanager" not in repr(env), function_id
        assert "TOKEN_SIGNING_KEY" not in env, function_id
    assert secret_ids == {"TokenSigningSecret"}
    assert environments["ControlApiFunction"]["TOKEN_SIGNING_SECRET_ID"] == {"Ref": "TokenSigningSecret"}
    assert _props("TokenSigningSecret")["GenerateSecretString"]["PasswordLength"] >= 32
    assert readers == {"ControlApiFunction"}
    assert [(s["Action"], s["Resource"]) for s in api_grants] == [
        ("secretsmanager:GetSecretValue", {"Ref": "TokenSigningSecret"})
    ]


def _environment(function_id: str) -> dict[str, Any]:
    variables: dict[str, Any] = _props(function_id).get("Environment", {}).get("Variables", {})
    return variables


def test_every_metric_a_function_emits_is_documented_in_the_template() -> None:
    # Given the metric names the functions' code emits by name
    emitted = {
        name
        for path in (ROOT / "functions").rglob("*.py")
        for name in re.findall(r'add_metric\(name="(\w+)"', path.read_text())
    }
    # When the template's metadata lists the metrics per function
    documented = {
        name
        for function, names in TEMPLATE["Metadata"]["Autopilot::Metrics"].items()
        if function not in ("Namespace", "Dimensions")
        for name in names
    }
    # Then every emitted name is there (the cron's come from its tick report, listed by the dashboard test)
    assert emitted
    assert emitted <= documented, sorted(emitted - documented)
