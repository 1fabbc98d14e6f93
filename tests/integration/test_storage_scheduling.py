"""The sparse due index, due queries, claims with a lease and the one-transaction completion."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.errors import ClaimLost
from engine.models.execution import RunStatus
from engine.models.strategy import Strategy, StrategyStatus
from engine.settings import get_settings
from engine.storage.dynamo import RequestCounter, get_clients, reset_clients
from engine.storage.executions import ExecutionLogRepository
from engine.storage.portfolios import AccountRepository
from engine.storage.runs import AUTO_PAUSE_REASON, Completion, RunCommit, RunRepository
from engine.storage.strategies import StrategyRepository, scheduling_fields
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import T0, make_log, make_strategy

LEASE = 120


@pytest.fixture
def aws() -> Iterator[AwsEnv]:
    reset_clients()
    with moto_stack() as env:
        yield env
    reset_clients()


@pytest.fixture
def repo(aws: AwsEnv) -> StrategyRepository:
    return StrategyRepository()


def raw_item(aws: AwsEnv, strategy_id: str) -> dict[str, Any]:
    client = aws.session.client("dynamodb")
    item: dict[str, Any] = client.get_item(
        TableName=aws.names.table("StrategiesTable"), Key={"strategy_id": {"S": strategy_id}}
    )["Item"]
    return item


def completion(
    strategy: Strategy,
    *,
    status: RunStatus = RunStatus.COMPLETED,
    ms: int = 100,
    failure: bool | None = False,
    at: datetime | None = None,
) -> Completion:
    assert strategy.claim_token is not None and strategy.claim_slot is not None
    return Completion(
        claim_token=strategy.claim_token,
        execution_ms=ms,
        status=status,
        executed_at=at or strategy.claim_slot,
        next_due_at=strategy.claim_slot + timedelta(minutes=1),
        counts_as_failure=failure,
        read_consecutive_failures=strategy.consecutive_failures,
        max_consecutive_failures=strategy.max_consecutive_failures,
    )


def test_only_running_strategies_are_in_the_due_index(repo: StrategyRepository, aws: AwsEnv) -> None:
    # Given one strategy in each status, all with a due_at in the past
    by_status = {s: make_strategy(status=s, due_at=T0) for s in StrategyStatus}
    for strategy in by_status.values():
        repo.create(strategy.model_copy(update={"due_at": T0}))
    # When
    due = repo.query_due(now=T0 + timedelta(minutes=1), limit=10)
    # Then
    running = by_status[StrategyStatus.RUNNING].strategy_id
    assert [r.strategy_id for r in due] == [running]
    assert "due_shard" in raw_item(aws, running)
    for status in (StrategyStatus.DRAFT, StrategyStatus.PAUSED):
        item = raw_item(aws, by_status[status].strategy_id)
        assert "due_shard" not in item and "due_at" not in item


def test_pausing_leaves_the_due_index_and_starting_joins_it(repo: StrategyRepository, aws: AwsEnv) -> None:
    # Given
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0)
    repo.create(strategy)
    # When paused
    set_fields, remove = scheduling_fields(StrategyStatus.PAUSED, None)
    paused = repo.update(
        strategy.strategy_id,
        owner="user-1",
        expected_version=None,
        allowed_status=[StrategyStatus.RUNNING],
        set_fields=set_fields,
        remove_fields=remove,
        now=T0,
    )
    # Then
    assert paused.is_active is False and paused.due_at is None and paused.next_execution_at is None
    assert repo.query_due(now=T0 + timedelta(hours=1), limit=10) == []
    assert "due_shard" not in raw_item(aws, strategy.strategy_id)
    # When resumed on a later slot
    resumed = repo.update(
        strategy.strategy_id,
        owner="user-1",
        expected_version=None,
        allowed_status=[StrategyStatus.PAUSED],
        set_fields={"status": StrategyStatus.RUNNING, "due_at": T0 + timedelta(minutes=7)},
        now=T0,
    )
    # Then
    assert resumed.is_active and resumed.next_execution_at == T0 + timedelta(minutes=7)
    assert raw_item(aws, strategy.strategy_id)["due_shard"]["S"] == repo.due_shard_for(strategy.strategy_id)
    assert [r.due_at for r in repo.query_due(now=T0 + timedelta(hours=1), limit=10)] == [
        T0 + timedelta(minutes=7)
    ]


def test_running_without_a_next_slot_is_refused(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy(status=StrategyStatus.DEPLOYED)
    repo.create(strategy)
    # When / Then
    with pytest.raises(ValueError, match="due_at"):
        repo.update(
            strategy.strategy_id,
            owner="user-1",
            expected_version=None,
            allowed_status=None,
            set_fields={"status": StrategyStatus.RUNNING},
            now=T0,
        )


def test_strategies_spread_over_the_configured_shards(repo: StrategyRepository, aws: AwsEnv) -> None:
    # Given
    strategies = [make_strategy(status=StrategyStatus.RUNNING) for _ in range(40)]
    repo.put_many(strategies)
    # When
    shards = {raw_item(aws, s.strategy_id)["due_shard"]["S"] for s in strategies}
    # Then
    assert shards == {str(i) for i in range(get_settings().due_shards)}


def test_due_query_returns_the_oldest_due_first_up_to_the_bound(repo: StrategyRepository) -> None:
    # Given 30 due strategies (due 1..30 minutes ago) and 10 due later
    now = T0 + timedelta(minutes=30)
    due = [make_strategy(status=StrategyStatus.RUNNING, due_at=T0 + timedelta(minutes=i)) for i in range(30)]
    later = [
        make_strategy(status=StrategyStatus.RUNNING, due_at=now + timedelta(minutes=1 + i)) for i in range(10)
    ]
    repo.put_many([*due, *later])
    # When
    refs, scanned = repo.query_due_counted(now=now, limit=10)
    everything = repo.query_due(now=now, limit=1000)
    # Then
    assert [r.strategy_id for r in refs] == [s.strategy_id for s in due[:10]]
    assert len(everything) == 30  # `<= now`: the one due exactly now is in
    assert [r.due_at for r in everything] == sorted(r.due_at for r in everything)
    assert scanned <= 10 * get_settings().due_shards  # each shard bounded by the limit


def test_a_due_query_reads_only_due_items(repo: StrategyRepository) -> None:
    # Given 5 due among 200 not due
    repo.put_many(
        [make_strategy(status=StrategyStatus.RUNNING, due_at=T0 + timedelta(hours=1)) for _ in range(200)]
        + [make_strategy(status=StrategyStatus.RUNNING, due_at=T0) for _ in range(5)]
    )
    # When
    refs, scanned = repo.query_due_counted(now=T0, limit=100)
    # Then
    assert len(refs) == 5
    assert scanned == 5


def test_claim_then_complete_moves_the_strategy_to_its_next_slot(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0, consecutive_failures=2)
    repo.create(strategy)
    (ref,) = repo.query_due(now=T0, limit=10)
    # When
    claimed = repo.claim(ref, slot=T0, now=T0, lease_seconds=LEASE)
    assert claimed is not None
    log = make_log(strategy.strategy_id)
    result = RunRepository().commit_run(
        RunCommit(strategy_id=strategy.strategy_id, logs=[log], completion=completion(claimed, ms=250))
    )
    # Then
    assert result.ok and not result.auto_paused
    stored = repo.find(strategy.strategy_id)
    assert stored is not None
    assert stored.claim_token is None and stored.claim_slot is None and stored.claim_expires_at is None
    assert stored.due_at == stored.next_execution_at == T0 + timedelta(minutes=1)
    assert (stored.total_executions, stored.total_execution_time_ms) == (1, 250)
    assert stored.avg_execution_time_ms == Decimal("250.00")
    assert stored.last_executed_at == T0 and stored.last_execution_status == "completed"
    assert stored.consecutive_failures == 0
    assert stored.version == strategy.version  # run stats are not a user edit: If-Match stays valid
    # lists read no trace (issue 11); the log's own read has it
    assert ExecutionLogRepository().list(strategy.strategy_id, limit=5, next_token=None, scope="u").items == [
        log.model_copy(update={"trace": []})
    ]
    assert ExecutionLogRepository().get(strategy.strategy_id, log.execution_id) == log
    assert repo.query_due(now=T0 + timedelta(seconds=59), limit=10) == []


def test_a_held_slot_cannot_be_claimed_twice(repo: StrategyRepository) -> None:
    # Given
    repo.create(make_strategy(status=StrategyStatus.RUNNING, due_at=T0))
    (ref,) = repo.query_due(now=T0, limit=10)
    first = repo.claim(ref, slot=T0, now=T0, lease_seconds=LEASE)
    # When
    second = repo.claim(ref, slot=T0, now=T0 + timedelta(seconds=30), lease_seconds=LEASE)
    # Then
    assert first is not None and second is None


def test_a_completed_slot_cannot_be_claimed_with_the_old_due_at(repo: StrategyRepository) -> None:
    # Given a slot claimed and completed
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0)
    repo.create(strategy)
    (ref,) = repo.query_due(now=T0, limit=10)
    claimed = repo.claim(ref, slot=T0, now=T0, lease_seconds=LEASE)
    assert claimed is not None
    RunRepository().commit_run(RunCommit(strategy_id=strategy.strategy_id, completion=completion(claimed)))
    # When a slow worker claims from the same stale reference
    late = repo.claim(ref, slot=T0, now=T0 + timedelta(seconds=5), lease_seconds=LEASE)
    # Then
    assert late is None


def test_an_uncompleted_claim_is_taken_again_after_its_lease_and_the_late_completion_lands_nothing(
    repo: StrategyRepository,
) -> None:
    # Given a claim whose worker crashed (never completed)
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0)
    repo.create(strategy)
    (ref,) = repo.query_due(now=T0, limit=10)
    crashed = repo.claim(ref, slot=T0, now=T0, lease_seconds=LEASE)
    assert crashed is not None
    # When a later tick sees it still due, within and then after the lease
    within = repo.claim(ref, slot=T0, now=T0 + timedelta(seconds=LEASE - 1), lease_seconds=LEASE)
    (again,) = repo.query_due(now=T0 + timedelta(seconds=LEASE + 1), limit=10)
    retaken = repo.claim(again, slot=T0, now=T0 + timedelta(seconds=LEASE + 1), lease_seconds=LEASE)
    # Then
    assert within is None
    assert retaken is not None and retaken.claim_token != crashed.claim_token
    # When the first claimant wakes up and completes
    runs = RunRepository()
    with pytest.raises(ClaimLost):
        runs.commit_run(
            RunCommit(
                strategy_id=strategy.strategy_id,
                logs=[make_log(strategy.strategy_id)],
                completion=completion(crashed),
            )
        )
    # Then nothing it wrote landed and the new claimant still completes
    assert (
        ExecutionLogRepository().list(strategy.strategy_id, limit=5, next_token=None, scope="u").items == []
    )
    unchanged = repo.find(strategy.strategy_id)
    assert unchanged is not None and unchanged.total_executions == 0
    assert runs.commit_run(RunCommit(strategy_id=strategy.strategy_id, completion=completion(retaken))).ok


def test_a_commit_sent_again_after_it_landed_is_a_duplicate_not_a_lost_claim(
    repo: StrategyRepository,
) -> None:
    # Given a run committed whose answer never reached the caller (a read timeout), so it is sent again
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0)
    repo.create(strategy)
    (ref,) = repo.query_due(now=T0, limit=10)
    claimed = repo.claim(ref, slot=T0, now=T0, lease_seconds=LEASE)
    assert claimed is not None
    commit = RunCommit(
        strategy_id=strategy.strategy_id,
        logs=[make_log(strategy.strategy_id)],
        completion=completion(claimed),
    )
    runs = RunRepository()
    assert runs.commit_run(commit).ok
    # When the same commit arrives again (the claim it names is gone, its log is there)
    again = runs.commit_run(commit)
    # Then it is reported as already applied, and nothing changed
    assert (again.ok, again.reason) == (False, "duplicate")
    done = repo.find(strategy.strategy_id)
    assert done is not None and done.total_executions == 1 and done.claim_token is None


def test_failures_in_a_row_pause_the_strategy_and_leave_the_due_index(repo: StrategyRepository) -> None:
    # Given a strategy that already failed twice of three allowed
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0, consecutive_failures=2)
    repo.create(strategy)
    (ref,) = repo.query_due(now=T0, limit=10)
    claimed = repo.claim(ref, slot=T0, now=T0, lease_seconds=LEASE)
    assert claimed is not None
    # When the third run in a row fails
    result = RunRepository().commit_run(
        RunCommit(
            strategy_id=strategy.strategy_id,
            logs=[make_log(strategy.strategy_id, status=RunStatus.FAILED)],
            completion=completion(claimed, status=RunStatus.FAILED, failure=True),
        )
    )
    # Then
    assert result.ok and result.auto_paused
    paused = repo.find(strategy.strategy_id)
    assert paused is not None
    assert paused.status is StrategyStatus.PAUSED and not paused.is_active
    assert paused.pause_reason == AUTO_PAUSE_REASON
    assert paused.consecutive_failures == 3
    assert paused.due_at is None and paused.next_execution_at is None
    assert paused.version == strategy.version + 1
    assert repo.query_due(now=T0 + timedelta(days=1), limit=10) == []


def test_a_failure_below_the_threshold_counts_and_one_that_does_not_count_leaves_it(
    repo: StrategyRepository,
) -> None:
    # Given
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0)
    repo.create(strategy)
    runs = RunRepository()
    counts = []
    # When a counted failure, then an uncounted one (market data down), then a success
    for minute, failure in enumerate((True, None, False)):
        (ref,) = repo.query_due(now=T0 + timedelta(minutes=minute), limit=10)
        claimed = repo.claim(ref, slot=ref.due_at, now=ref.due_at, lease_seconds=LEASE)
        assert claimed is not None
        runs.commit_run(
            RunCommit(
                strategy_id=strategy.strategy_id,
                completion=completion(claimed, status=RunStatus.FAILED, failure=failure),
            )
        )
        stored = repo.find(strategy.strategy_id)
        assert stored is not None
        counts.append(stored.consecutive_failures)
    # Then
    assert counts == [1, 1, 0]


def test_a_released_claim_can_be_taken_at_once(repo: StrategyRepository) -> None:
    # Given a claim given back (the run was deferred)
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0)
    repo.create(strategy)
    (ref,) = repo.query_due(now=T0, limit=10)
    claimed = repo.claim(ref, slot=T0, now=T0, lease_seconds=LEASE)
    assert claimed is not None and claimed.claim_token is not None
    runs = RunRepository()
    # When
    released = runs.release_claim(strategy.strategy_id, claimed.claim_token)
    released_twice = runs.release_claim(strategy.strategy_id, claimed.claim_token)
    # Then
    assert released and not released_twice
    assert repo.claim(ref, slot=T0, now=T0, lease_seconds=LEASE) is not None


def test_a_claim_run_complete_cycle_without_trades_costs_three_requests(repo: StrategyRepository) -> None:
    # Given a running strategy with an open account
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0)
    repo.create(strategy)
    AccountRepository().open(strategy.strategy_id, bankroll=Decimal(1000), epoch=0, now=T0)
    (ref,) = repo.query_due(now=T0, limit=10)
    client = get_clients().dynamodb
    # When
    with RequestCounter(client) as counter:
        claimed = repo.claim(ref, slot=T0, now=T0, lease_seconds=LEASE)
        assert claimed is not None
        account = AccountRepository().get(strategy.strategy_id)
        result = RunRepository().commit_run(
            RunCommit(
                strategy_id=strategy.strategy_id,
                account_before=account,
                logs=[make_log(strategy.strategy_id)],
                completion=completion(claimed),
            )
        )
    # Then
    assert result.ok
    assert counter.counts == {"UpdateItem": 1, "GetItem": 1, "TransactWriteItems": 1}
    assert counter.total == 3
