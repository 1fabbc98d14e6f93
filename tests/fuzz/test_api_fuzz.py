"""API fuzzing: schemathesis generates requests from the committed docs/openapi.json and sends them to the
local stack's HTTP gateway (the real control API handler behind development JWTs). Alice fuzzes; bob owns data
created before the run.

Each operation gets a bounded, seeded number of examples (derandomized, so a failure reproduces): positive
cases, positive cases with one of alice's real strategy ids (or one of bob's) as the path id, so the deep code
paths run and not only the 404, and negative cases (data the document forbids). Every answer must be no 5xx,
its status code documented for the operation, and its body valid against the documented schema. Afterwards
bob's strategies, trades, execution logs and portfolios are exactly as before, through the API and in the
tables.

A negative case may remove or mangle the Authorization header: the gateway then answers as API Gateway's JWT
authorizer does (401 `{"message": "Unauthorized"}`, the document's GatewayMessage), and the function never
runs.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.clock import FastClock, parse_instant
from local.demo import RECORDING_TIME, SAMPLES
from local.stack import LocalStack, StackConfig

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.openapi.from_path(
    ROOT / "docs" / "openapi.json", config=schemathesis.Config.from_dict({"seed": 20261124})
)
OPERATIONS = {
    op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations() if isinstance(result, Ok))
}
assert len(OPERATIONS) == sum(1 for _ in SCHEMA.get_all_operations()), "every documented operation loads"
MAX_EXAMPLES = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
DESIGN = json.loads((SAMPLES / "design_example.json").read_text())
CHEAPER = json.loads((SAMPLES / "cheaper_side.json").read_text())


@dataclass
class Target:
    stack: LocalStack
    session: requests.Session
    headers: dict[str, dict[str, str]]
    alice: list[str]
    bob: list[str]
    bob_before: dict[str, Any]
    fuzzed: Counter[str] = field(default_factory=Counter)  # operation label -> cases sent
    watchlists: dict[str, str] = field(default_factory=dict)  # user -> a watchlist of theirs

    @property
    def url(self) -> str:
        return self.stack.api_url

    def call(self, user: str, method: str, path: str, body: Any = None) -> requests.Response:
        answer = self.session.request(
            method, self.url + path, headers=self.headers[user], json=body, timeout=30
        )
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text[:300]}"
        return answer


def _all_items(target: Target, user: str, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 100}
    for _ in range(100):  # bounded paging
        page = target.session.get(target.url + path, params=query, headers=target.headers[user], timeout=30)
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        if not body.get("next_token"):
            return items
        query["next_token"] = body["next_token"]
    raise AssertionError(f"{path} did not stop paging")


def _scan(stack: LocalStack, logical: str, ids: set[str], key: str = "strategy_id") -> list[dict[str, Any]]:
    assert stack.names is not None
    client = stack.client("dynamodb")
    request: dict[str, Any] = {"TableName": stack.names.table(logical), "ConsistentRead": True}
    items: list[dict[str, Any]] = []
    for _ in range(1000):
        page = client.scan(**request)
        items.extend(i for i in page.get("Items", []) if i.get(key, {}).get("S") in ids)
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda i: json.dumps(i, sort_keys=True))


def bobs_data(target: Target) -> dict[str, Any]:
    """Everything of bob's, through the API and straight from the tables."""
    snapshot: dict[str, Any] = {"strategies": _all_items(target, "bob", "/strategies")}
    for sid in target.bob:
        for part in ("", "/portfolio", "/performance"):
            answer = target.session.get(
                f"{target.url}/strategies/{sid}{part}", headers=target.headers["bob"], timeout=30
            )
            body = answer.json()
            if isinstance(body.get("error"), dict):
                body["error"].pop("request_id", None)  # new on every request
            snapshot[f"{sid}{part}"] = (answer.status_code, body)
        snapshot[f"{sid}/trades"] = _all_items(target, "bob", f"/strategies/{sid}/trades")
        snapshot[f"{sid}/executions"] = _all_items(target, "bob", f"/strategies/{sid}/executions")
        for history in ("deployments", "versions", "events"):
            snapshot[f"{sid}/{history}"] = _all_items(target, "bob", f"/strategies/{sid}/{history}")
    ids = set(target.bob)
    for logical in ("StrategiesTable", "TradesTable", "ExecutionLogsTable", "PortfoliosTable"):
        snapshot[logical] = _scan(target.stack, logical, ids)
    snapshot["watchlists"] = _all_items(target, "bob", "/watchlists")
    wid = target.watchlists["bob"]
    snapshot["watchlist items"] = _all_items(target, "bob", f"/watchlists/{wid}/items")
    snapshot["WatchlistsTable"] = _scan(
        target.stack, "WatchlistsTable", {"OWNER#bob", f"LIST#{wid}"}, key="pk"
    )
    return snapshot


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One local stack for the module, with data of both users: bob's (a running strategy that has run, with
    trades, logs and a portfolio, and a draft) and alice's (a draft, a deployed one that has run, a running
    one), every stream record delivered."""
    config = StackConfig(
        prefix=f"fuzz-{uuid.uuid4().hex[:6]}",
        driven=True,
        state_dir=tmp_path_factory.mktemp("fuzz-stack"),
        parameters={"DueShards": 1},
    )
    with LocalStack(config, clock=FastClock(parse_instant(RECORDING_TIME))) as stack:
        session = requests.Session()
        headers = {u: {"Authorization": f"Bearer {stack.token(u)}"} for u in ("alice", "bob")}
        target = Target(stack, session, headers, alice=[], bob=[], bob_before={})
        deploy = {"paper_bankroll_usd": 1000, "frequency": "5m"}
        for user, body, actions in (
            ("bob", DESIGN, ["deploy", "run", "start"]),
            ("bob", CHEAPER, []),
            ("alice", CHEAPER, []),
            ("alice", DESIGN, ["deploy", "run"]),
            ("alice", CHEAPER, ["deploy", "start", "run"]),
        ):
            sid = target.call(user, "POST", "/strategies", body).json()["strategy_id"]
            for action in actions:
                target.call(
                    user, "POST", f"/strategies/{sid}/{action}", deploy if action == "deploy" else None
                )
            (target.bob if user == "bob" else target.alice).append(sid)
        stack.settle()
        traded = target.call("bob", "GET", f"/strategies/{target.bob[0]}/trades").json()["items"]
        for user in ("bob", "alice"):
            wid = target.call(user, "POST", "/watchlists", {"name": f"{user}'s"}).json()["watchlist_id"]
            items = {"market_ids": [traded[0]["market_id"]], "reason": "fuzz"}
            target.call(user, "POST", f"/watchlists/{wid}/items", items)
            target.watchlists[user] = wid
        target.bob_before = bobs_data(target)
        assert target.bob_before[f"{target.bob[0]}/trades"], "bob's data includes trades"
        yield target
        session.close()


def fuzz_operation(target: Target, label: str) -> list[str]:
    """Send the operation's bounded examples as alice; the distinct failures (empty: all good)."""
    operation = OPERATIONS[label]
    parts = [operation.as_strategy(GenerationMode.POSITIVE)]
    if "{strategy_id}" in operation.path:
        for sid in (*target.alice, target.bob[0]):
            parts.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"strategy_id": sid}))
    if "{watchlist_id}" in operation.path:
        for wid in target.watchlists.values():
            parts.append(
                operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"watchlist_id": wid})
            )
    parts.append(operation.as_strategy(GenerationMode.NEGATIVE))
    failures: dict[tuple[int, str], str] = {}

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(parts))
    def send(case: Any) -> None:
        target.fuzzed[label] += 1
        answer = case.call(base_url=target.url, headers=target.headers["alice"], session=target.session)
        try:
            case.validate_response(answer, checks=CHECKS)
        except BaseExceptionGroup as group:  # schemathesis' FailureGroup: one per failed check
            failures[(answer.status_code, type(group).__name__)] = str(group)[:2000]

    send()
    return list(failures.values())


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_fuzzing_an_operation_as_alice_answers_no_5xx_and_only_what_the_document_describes(
    target: Target, label: str
) -> None:
    # Given the stack with alice's and bob's data, and the operation from the committed document

    # When alice sends the operation's generated cases (random ids, her real ids, bob's id, invalid data)
    failures = fuzz_operation(target, label)

    # Then every answer is documented: no 5xx, a documented status code, a body matching its schema
    assert target.fuzzed[label] >= MAX_EXAMPLES // 2
    assert not failures, "\n\n".join(failures)


def test_fuzzing_as_alice_changes_none_of_bobs_data(target: Target) -> None:
    # Given the fuzzing above (run here when this test runs on its own)
    for label in sorted(OPERATIONS):
        if not target.fuzzed[label]:
            fuzz_operation(target, label)

    # When bob's data is read again
    after = bobs_data(target)

    # Then it is exactly as before: strategies, trades, logs, portfolios, through the API and in the tables
    assert sum(target.fuzzed.values()) >= len(OPERATIONS) * MAX_EXAMPLES // 2
    assert after.keys() == target.bob_before.keys()
    for key, before in target.bob_before.items():
        assert after[key] == before, key
