"""Strategies table: CRUD, owner scoping, conditional updates, signed list pagination, purge."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from engine.errors import Conflict, InvalidNextToken, InvalidTransition, PreconditionFailed, StrategyNotFound
from engine.ledger import apply_to_account
from engine.models.execution import RunStatus
from engine.models.portfolio import EquityPoint
from engine.models.strategy import StrategyStatus
from engine.storage.dynamo import reset_clients
from engine.storage.executions import ExecutionLogRepository
from engine.storage.portfolios import AccountRepository, PortfolioRepository
from engine.storage.runs import ManualStats, RunCommit, RunRepository
from engine.storage.strategies import StrategyRepository
from engine.storage.trades import TradeRepository
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import T0, make_log, make_strategy, make_trade


@pytest.fixture
def aws() -> Iterator[AwsEnv]:
    reset_clients()
    with moto_stack() as env:
        yield env
    reset_clients()


@pytest.fixture
def repo(aws: AwsEnv) -> StrategyRepository:
    return StrategyRepository()


def test_a_created_strategy_reads_back_equal_for_its_owner(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy(strategy_description="buys the favourite")
    # When
    repo.create(strategy)
    # Then
    assert repo.get(strategy.strategy_id, owner="user-1") == strategy
    assert repo.find(strategy.strategy_id) == strategy


def test_graph_numbers_come_back_as_numbers_not_decimals(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy()
    repo.create(strategy)
    # When
    graph = repo.get(strategy.strategy_id, owner="user-1").node_graph.model_dump(mode="json")
    # Then
    conditions = graph["nodes"][1]["config"]["conditions"]
    assert conditions[0]["value"] == 10000 and isinstance(conditions[0]["value"], int)
    assert conditions[1]["value"] == [0.2, 0.8] and isinstance(conditions[1]["value"][0], float)


def test_another_owner_gets_the_same_not_found_as_a_missing_strategy(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy(owner="alice")
    repo.create(strategy)
    # When
    with pytest.raises(StrategyNotFound) as foreign:
        repo.get(strategy.strategy_id, owner="mallory")
    with pytest.raises(StrategyNotFound) as missing:
        repo.get("no-such-id", owner="mallory")
    # Then
    assert str(foreign.value) == str(missing.value)
    assert foreign.value.details == missing.value.details


def test_creating_an_existing_id_is_a_conflict(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy()
    repo.create(strategy)
    # When / Then
    with pytest.raises(Conflict):
        repo.create(strategy.model_copy(update={"strategy_name": "Other"}))
    assert repo.get(strategy.strategy_id, owner="user-1").strategy_name == "Momentum"


def test_update_bumps_version_and_updated_at_and_returns_the_new_strategy(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy(strategy_description="old")
    repo.create(strategy)
    later = T0 + timedelta(minutes=5)
    # When
    updated = repo.update(
        strategy.strategy_id,
        owner="user-1",
        expected_version=1,
        allowed_status=[StrategyStatus.DRAFT],
        set_fields={"strategy_name": "Renamed", "strategy_description": None},
        now=later,
    )
    # Then
    assert updated.strategy_name == "Renamed"
    assert updated.strategy_description is None
    assert updated.version == 2
    assert updated.updated_at == later
    assert repo.get(strategy.strategy_id, owner="user-1") == updated


def test_a_stale_version_is_precondition_failed_and_changes_nothing(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy()
    repo.create(strategy)
    # When
    with pytest.raises(PreconditionFailed) as error:
        repo.update(
            strategy.strategy_id,
            owner="user-1",
            expected_version=7,
            allowed_status=None,
            set_fields={"strategy_name": "Nope"},
            now=T0,
        )
    # Then
    assert error.value.details == {"version": 1}
    assert repo.get(strategy.strategy_id, owner="user-1") == strategy


def test_a_disallowed_status_reports_the_current_status_and_its_actions(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy(status=StrategyStatus.RUNNING)
    repo.create(strategy)
    # When
    with pytest.raises(InvalidTransition) as error:
        repo.delete(strategy.strategy_id, owner="user-1", allowed_status=[StrategyStatus.DRAFT])
    # Then
    assert error.value.details == {"status": "RUNNING", "allowed": ["patch", "pause", "run", "stop"]}
    assert repo.find(strategy.strategy_id) is not None


def test_update_and_delete_by_another_owner_are_not_found(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy(owner="alice")
    repo.create(strategy)
    # When / Then
    with pytest.raises(StrategyNotFound):
        repo.update(
            strategy.strategy_id,
            owner="mallory",
            expected_version=None,
            allowed_status=None,
            set_fields={"strategy_name": "Mine now"},
            now=T0,
        )
    with pytest.raises(StrategyNotFound):
        repo.delete(strategy.strategy_id, owner="mallory", allowed_status=None)
    assert repo.get(strategy.strategy_id, owner="alice") == strategy


def test_update_refuses_fields_it_maintains_itself(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy()
    repo.create(strategy)
    # When / Then
    for field in ("created_by", "version", "strategy_id"):
        with pytest.raises(ValueError, match=field):
            repo.update(
                strategy.strategy_id,
                owner="user-1",
                expected_version=None,
                allowed_status=None,
                set_fields={field: "x"},
                now=T0,
            )


def test_delete_removes_the_strategy(repo: StrategyRepository) -> None:
    # Given
    strategy = make_strategy()
    repo.create(strategy)
    # When
    repo.delete(strategy.strategy_id, owner="user-1", allowed_status=[StrategyStatus.DRAFT])
    # Then
    assert repo.find(strategy.strategy_id) is None


def test_list_is_newest_first_and_pages_with_signed_tokens(repo: StrategyRepository) -> None:
    # Given 25 strategies of alice (one a minute) and some of bob
    mine = [make_strategy(owner="alice", created_at=T0 + timedelta(minutes=i)) for i in range(25)]
    repo.put_many([*mine, *(make_strategy(owner="bob") for _ in range(5))])
    # When
    pages, token = [], None
    while True:
        page = repo.list_by_owner("alice", limit=10, next_token=token)
        pages.append(page.items)
        token = page.next_token
        if token is None:
            break
    # Then
    assert [len(p) for p in pages] == [10, 10, 5]
    listed = [s.strategy_id for p in pages for s in p]
    assert listed == [s.strategy_id for s in reversed(mine)]


def test_a_list_that_fits_one_page_has_no_token(repo: StrategyRepository) -> None:
    # Given
    repo.put_many([make_strategy(owner="alice") for _ in range(3)])
    # When
    page = repo.list_by_owner("alice", limit=3, next_token=None)
    # Then
    assert len(page.items) == 3
    assert page.next_token is None


def test_tampered_and_foreign_owner_tokens_are_rejected(repo: StrategyRepository) -> None:
    # Given
    repo.put_many(
        [
            make_strategy(owner=o, created_at=T0 + timedelta(minutes=i))
            for o in ("alice", "bob")
            for i in range(3)
        ]
    )
    token = repo.list_by_owner("alice", limit=1, next_token=None).next_token
    assert token is not None
    payload, mac = token.split(".")
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
    # When / Then
    for bad in (tampered, "garbage", "", token + "x", "a.b.c"):
        with pytest.raises(InvalidNextToken):
            repo.list_by_owner("alice", limit=1, next_token=bad)
    with pytest.raises(InvalidNextToken):
        repo.list_by_owner("bob", limit=1, next_token=token)


def test_count_by_owner_stops_counting_at_the_bound(repo: StrategyRepository) -> None:
    # Given
    repo.put_many([make_strategy(owner="alice") for _ in range(12)])
    # When / Then
    assert repo.count_by_owner("alice", up_to=5) == 5
    assert repo.count_by_owner("alice", up_to=100) == 12
    assert repo.count_by_owner("nobody", up_to=100) == 0


def test_purge_removes_the_strategys_data_and_nothing_else(repo: StrategyRepository) -> None:
    # Given two strategies with trades, logs, marks, account, portfolio and equity points
    strategies = [make_strategy(status=StrategyStatus.DEPLOYED) for _ in range(2)]
    runs, accounts, portfolios = RunRepository(), AccountRepository(), PortfolioRepository()
    for strategy in strategies:
        repo.create(strategy)
        sid = strategy.strategy_id
        before = accounts.open(sid, bankroll=Decimal(1000), epoch=0, now=T0)
        trades = [make_trade(sid, seq=i + 1, market_id=f"m{i}", shares=Decimal(10)) for i in range(30)]
        for chunk in (trades[:15], trades[15:]):
            after = apply_to_account(before, chunk)
            runs.commit_run(
                RunCommit(strategy_id=sid, trades=chunk, account_before=before, account_after=after)
            )
            before = after.model_copy(update={"version": before.version + 1})
        for i in range(3):
            ExecutionLogRepository().put(make_log(sid, scheduled_for=T0 + timedelta(minutes=i)))
        portfolios.reset(sid, bankroll=Decimal(1000), epoch=0, now=T0)
        point = EquityPoint(
            at=T0, equity_usd=Decimal(1000), cash_usd=Decimal(1000), positions_value_usd=Decimal(0)
        )
        portfolios.put_equity_point(sid, "m#2026-11-24T12:00:00Z", None, point)
    gone, kept = strategies[0].strategy_id, strategies[1].strategy_id
    # When
    repo.purge_strategy_data(gone)
    # Then
    trades_repo = TradeRepository()
    assert trades_repo.ledger(gone, epoch=0) == []
    assert ExecutionLogRepository().list(gone, limit=10, next_token=None, scope="user-1").items == []
    assert accounts.get(gone) is None
    assert portfolios.get_portfolio(gone) is None
    assert portfolios.equity_points(gone, now=T0) == []
    assert len(trades_repo.ledger(kept, epoch=0)) == 30
    assert accounts.get(kept) is not None
    # reset writes the opening point to every tier (issue 14); the point put above overwrote its minute item
    assert len(portfolios.equity_points(kept, now=T0)) == 3


def test_manual_stats_on_a_deleted_strategy_is_not_found(repo: StrategyRepository) -> None:
    # Given a manual run whose strategy was deleted while it ran
    strategy = make_strategy(status=StrategyStatus.DEPLOYED)
    repo.create(strategy)
    repo.delete(strategy.strategy_id, owner="user-1", allowed_status=None)
    stats = ManualStats(execution_ms=5, status=RunStatus.COMPLETED, executed_at=T0)
    # When / Then
    with pytest.raises(StrategyNotFound):
        RunRepository().commit_run(
            RunCommit(strategy_id=strategy.strategy_id, logs=[make_log(strategy.strategy_id)], manual=stats)
        )
    assert (
        ExecutionLogRepository().list(strategy.strategy_id, limit=5, next_token=None, scope="x").items == []
    )
