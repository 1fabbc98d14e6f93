"""Trades, marks, execution logs, the account and the portfolio read model; tokens and error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.errors import Conflict, InvalidNextToken, StorageError
from engine.ledger import LedgerError, apply_to_account
from engine.models.execution import RunStatus
from engine.models.portfolio import EquityPoint
from engine.models.strategy import StrategyStatus
from engine.models.trading import Side
from engine.storage.dynamo import from_item, map_error, reset_clients
from engine.storage.executions import ExecutionLogRepository
from engine.storage.portfolios import AccountRepository, PortfolioRepository, fresh_portfolio
from engine.storage.runs import CommitTooLarge, ManualStats, RunCommit, RunRepository
from engine.storage.strategies import StrategyRepository
from engine.storage.tokens import decode_next_token, encode_next_token
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
def strategy_id(aws: AwsEnv) -> str:
    strategy = make_strategy(status=StrategyStatus.DEPLOYED)
    StrategyRepository().create(strategy)
    AccountRepository().open(strategy.strategy_id, bankroll=Decimal(1000), epoch=0, now=T0)
    return strategy.strategy_id


def trade_run(strategy_id: str, count: int, *, first_seq: int = 1, slot: str = "s1") -> RunCommit:
    """A manual run of `count` small BUY trades against the stored account."""
    before = AccountRepository().get(strategy_id)
    assert before is not None
    trades = [
        make_trade(
            strategy_id, seq=first_seq + i, market_id=f"m{first_seq + i}", slot_key=slot, shares=Decimal(10)
        )
        for i in range(count)
    ]
    stats = ManualStats(execution_ms=10, status=RunStatus.COMPLETED, executed_at=T0)
    return RunCommit(
        strategy_id=strategy_id,
        trades=trades,
        account_before=before,
        account_after=apply_to_account(before, trades),
        logs=[make_log(strategy_id, scheduled_for=T0, trigger="manual", kind=slot)],
        manual=stats,
    )


def test_a_run_commits_its_trades_and_account_together(strategy_id: str) -> None:
    # Given
    commit = trade_run(strategy_id, 3)
    # When
    result = RunRepository().commit_run(commit)
    # Then
    assert result.ok
    account = AccountRepository().get(strategy_id)
    assert account is not None
    assert account.cash_usd == Decimal(1000) - 3 * Decimal("5.25")
    assert account.trade_seq == 3 and set(account.positions) == {"tok-m1-yes", "tok-m2-yes", "tok-m3-yes"}
    assert account.version == 2  # opened at 1
    assert TradeRepository().ledger(strategy_id, epoch=0) == commit.trades


def test_a_retried_commit_with_the_same_trade_ids_does_not_trade_twice(strategy_id: str) -> None:
    # Given a run that committed
    runs = RunRepository()
    commit = trade_run(strategy_id, 2)
    assert runs.commit_run(commit).ok
    cash_after_first = AccountRepository().get(strategy_id).cash_usd  # type: ignore[union-attr]
    # When it is retried as sent, and as re-decided against the account it now finds
    again = runs.commit_run(commit)
    redecided = trade_run(strategy_id, 2, first_seq=1)
    redecided.trades = [t.model_copy(update={"seq": t.seq + 2}) for t in redecided.trades]
    once_more = runs.commit_run(redecided)
    # Then
    assert (again.ok, again.reason) == (False, "duplicate")
    assert (once_more.ok, once_more.reason) == (False, "duplicate")
    assert len(TradeRepository().ledger(strategy_id, epoch=0)) == 2
    assert AccountRepository().get(strategy_id).cash_usd == cash_after_first  # type: ignore[union-attr]
    assert StrategyRepository().find(strategy_id).total_executions == 1  # type: ignore[union-attr]


def test_a_run_that_would_overspend_is_refused_before_anything_is_written(strategy_id: str) -> None:
    # Given an account after that is below zero (a caller bug)
    commit = trade_run(strategy_id, 1)
    assert commit.account_after is not None
    commit.account_after = commit.account_after.model_copy(update={"cash_usd": Decimal("-0.01")})
    # When / Then
    with pytest.raises(LedgerError):
        RunRepository().commit_run(commit)
    assert TradeRepository().ledger(strategy_id, epoch=0) == []


def test_a_commit_larger_than_one_transaction_is_refused_whole(strategy_id: str) -> None:
    # Given 100 trades plus the account, the log and the strategy update
    commit = trade_run(strategy_id, 100)
    # When / Then
    with pytest.raises(CommitTooLarge, match="at most 100"):
        RunRepository().commit_run(commit)
    assert TradeRepository().ledger(strategy_id, epoch=0) == []


def test_trades_list_newest_first_with_tokens_bound_to_the_strategy_and_owner(strategy_id: str) -> None:
    # Given 12 trades in two runs and marks (which are not a trade)
    runs, trades = RunRepository(), TradeRepository()
    runs.commit_run(trade_run(strategy_id, 7, slot="a"))
    second = trade_run(strategy_id, 5, first_seq=8, slot="b")
    second.marks, second.marked_at = {"tok-m1-yes": {"price": Decimal("0.55"), "status": "open"}}, T0
    runs.commit_run(second)
    # When
    first_page = trades.list(strategy_id, limit=5, next_token=None, scope="user-1")
    pages = [first_page.items]
    token = first_page.next_token
    while token:
        page = trades.list(strategy_id, limit=5, next_token=token, scope="user-1")
        pages.append(page.items)
        token = page.next_token
    # Then
    assert [[t.seq for t in p] for p in pages] == [[12, 11, 10, 9, 8], [7, 6, 5, 4, 3], [2, 1]]
    assert first_page.next_token is not None
    with pytest.raises(InvalidNextToken):
        trades.list(strategy_id, limit=5, next_token=first_page.next_token, scope="mallory")
    with pytest.raises(InvalidNextToken):
        trades.list("another-strategy", limit=5, next_token=first_page.next_token, scope="user-1")
    with pytest.raises(InvalidNextToken):
        ExecutionLogRepository().list(strategy_id, limit=5, next_token=first_page.next_token, scope="user-1")


def test_the_ledger_reads_in_seq_order_within_an_epoch(strategy_id: str) -> None:
    # Given trades in epoch 0 and, after a redeploy, epoch 1
    runs, trades = RunRepository(), TradeRepository()
    runs.commit_run(trade_run(strategy_id, 12))
    AccountRepository().open(strategy_id, bankroll=Decimal(500), epoch=1, now=T0)
    fresh = trade_run(strategy_id, 2, slot="after-redeploy")
    fresh.trades = [t.model_copy(update={"epoch": 1}) for t in fresh.trades]
    runs.commit_run(fresh)
    # When / Then
    assert [t.seq for t in trades.after_seq(strategy_id, epoch=0, after_seq=9)] == [10, 11, 12]
    assert [t.seq for t in trades.after_seq(strategy_id, epoch=0, after_seq=0, limit=4)] == [1, 2, 3, 4]
    assert [t.seq for t in trades.ledger(strategy_id, epoch=1)] == [1, 2]
    assert trades.after_seq(strategy_id, epoch=1, after_seq=2) == []


def test_marks_round_trip_with_decimal_prices(strategy_id: str) -> None:
    # Given
    commit = RunCommit(
        strategy_id=strategy_id,
        marks={"tok-1": {"price": Decimal("0.4321"), "status": "awaiting_resolution"}},
        marked_at=T0 + timedelta(seconds=3),
    )
    # When
    RunRepository().commit_run(commit)
    # Then
    assert TradeRepository().get_marks(strategy_id) == {
        "marked_at": T0 + timedelta(seconds=3),
        "marks": {"tok-1": {"price": Decimal("0.4321"), "status": "awaiting_resolution"}},
    }
    assert TradeRepository().get_marks("nobody") is None


def test_logs_list_newest_first_and_a_status_filter_still_fills_pages(strategy_id: str) -> None:
    # Given 40 logs, one in four failed
    logs = ExecutionLogRepository()
    for i in range(40):
        status = RunStatus.FAILED if i % 4 == 0 else RunStatus.COMPLETED
        logs.put(make_log(strategy_id, scheduled_for=T0 + timedelta(minutes=i), status=status))
    # When
    pages, token = [], None
    while True:
        page = logs.list(strategy_id, limit=3, next_token=token, status="failed", scope="user-1")
        pages.append([int((x.scheduled_for - T0).total_seconds() // 60) for x in page.items])
        token = page.next_token
        if token is None:
            break
    newest = logs.list(strategy_id, limit=2, next_token=None, scope="user-1").items
    # Then
    assert pages == [[36, 32, 28], [24, 20, 16], [12, 8, 4], [0]]
    assert [x.scheduled_for for x in newest] == [T0 + timedelta(minutes=39), T0 + timedelta(minutes=38)]


def test_logs_since_a_time_are_bounded_on_the_key(strategy_id: str) -> None:
    # Given
    logs = ExecutionLogRepository()
    for i in range(10):
        logs.put(make_log(strategy_id, scheduled_for=T0 + timedelta(minutes=i)))
    # When
    page = logs.list(strategy_id, limit=20, next_token=None, since=T0 + timedelta(minutes=7), scope="u")
    # Then
    assert [x.scheduled_for for x in page.items] == [T0 + timedelta(minutes=m) for m in (9, 8, 7)]
    assert page.next_token is None


def test_a_log_item_expires_after_the_configured_days_and_keeps_its_trace(strategy_id: str) -> None:
    # Given
    logs = ExecutionLogRepository()
    log = make_log(strategy_id, executed_at=T0 + timedelta(seconds=2))
    # When
    item = from_item(logs.item_for(log))
    logs.put(log)
    # Then
    assert item["expires_at"] == int((T0 + timedelta(days=30, seconds=2)).timestamp())
    assert item["log_key"] == f"2026-11-24T12:00:00.000Z#{log.execution_id}"
    (listed,) = logs.list(strategy_id, limit=5, next_token=None, scope="u").items
    assert listed == log.model_copy(update={"trace": []})  # lists read no trace (issue 11)
    stored = logs.get(strategy_id, log.execution_id)
    assert stored == log
    assert stored.trace[0].decisions == [{"market_id": "m1", "kept": True, "yes_price": 0.42}]


def test_reopening_an_account_keeps_its_version_counting(strategy_id: str) -> None:
    # Given an account that traded (version 2)
    RunRepository().commit_run(trade_run(strategy_id, 1))
    accounts = AccountRepository()
    # When
    reopened = accounts.open(strategy_id, bankroll=Decimal(2000), epoch=1, now=T0)
    # Then
    assert (reopened.cash_usd, reopened.bankroll_usd, reopened.epoch) == (Decimal(2000), Decimal(2000), 1)
    assert reopened.positions == {} and reopened.trade_seq == 0
    assert reopened.version == 3
    assert accounts.get(strategy_id) == reopened


def test_the_portfolio_state_is_written_only_over_the_applied_seq_it_read(strategy_id: str) -> None:
    # Given a fresh portfolio
    portfolios = PortfolioRepository()
    fresh = portfolios.reset(strategy_id, bankroll=Decimal(1000), epoch=0, now=T0)
    assert portfolios.get_state(strategy_id) == (None, 0)
    state: dict[str, Any] = {"applied_seq": 3, "cash_usd": Decimal("984.25"), "note": 0.5}
    portfolio = fresh.model_copy(update={"cash_usd": Decimal("984.25")})
    # When two writers both read applied_seq 0
    first = portfolios.put_state(
        strategy_id, state=state, portfolio=portfolio, expected_applied_seq=0, epoch=0
    )
    second = portfolios.put_state(
        strategy_id, state=state, portfolio=portfolio, expected_applied_seq=0, epoch=0
    )
    # Then
    assert (first, second) == (True, False)
    assert portfolios.get_state(strategy_id) == (
        {"applied_seq": 3, "cash_usd": Decimal("984.25"), "note": Decimal("0.5")},
        3,
    )
    assert portfolios.get_portfolio(strategy_id) == portfolio
    # and a writer of the previous epoch loses to a redeploy
    portfolios.reset(strategy_id, bankroll=Decimal(500), epoch=1, now=T0)
    assert not portfolios.put_state(
        strategy_id, state=state, portfolio=portfolio, expected_applied_seq=0, epoch=0
    )
    assert portfolios.get_portfolio(strategy_id) == fresh_portfolio(strategy_id, Decimal(500), T0)


def test_equity_points_skip_expired_items_and_go_with_a_reset(strategy_id: str) -> None:
    # Given a minute point that expired, one that has not, and a daily point without TTL
    portfolios = PortfolioRepository()
    point = EquityPoint(
        at=T0, equity_usd=Decimal(1000), cash_usd=Decimal(900), positions_value_usd=Decimal(100)
    )
    now = T0 + timedelta(days=1)
    portfolios.put_equity_point(strategy_id, "m#2026-11-24T12:00:00Z", int(now.timestamp()) - 1, point)
    portfolios.put_equity_point(strategy_id, "m#2026-11-24T12:01:00Z", int(now.timestamp()) + 60, point)
    portfolios.put_equity_point(strategy_id, "d#2026-11-24", None, point)
    # When
    points = portfolios.equity_points(strategy_id, now=now)
    # Then
    assert points == [("d#2026-11-24", point), ("m#2026-11-24T12:01:00Z", point)]
    portfolios.reset(strategy_id, bankroll=Decimal(1000), epoch=1, now=now)
    # the old points go; the new curve starts with the bankroll at deploy time, in every tier (issue 14)
    after = portfolios.equity_points(strategy_id, now=now)
    assert [(key[:1], p.at, p.equity_usd) for key, p in after] == [
        ("d", now, Decimal(1000)),
        ("h", now, Decimal(1000)),
        ("m", now, Decimal(1000)),
    ]


def test_tokens_reject_garbage_and_foreign_scopes() -> None:
    # Given
    key = {"strategy_id": {"S": "s1"}, "log_key": {"S": "2026#x"}}
    token = encode_next_token(key, scope="a", key="k")
    # When / Then
    assert decode_next_token(token, scope="a", key="k") == key
    for bad_token, scope, signing in ((token, "b", "k"), (token, "a", "other-key"), ("!!.??", "a", "k")):
        with pytest.raises(InvalidNextToken):
            decode_next_token(bad_token, scope=scope, key=signing)
    shaped = encode_next_token({"x": {"M": {}}}, scope="a", key="k")
    with pytest.raises(InvalidNextToken):
        decode_next_token(shaped, scope="a", key="k")


def test_aws_errors_map_to_domain_errors_without_leaking_aws_text() -> None:
    # Given
    def client_error(code: str, status: int) -> ClientError:
        return ClientError(
            {
                "Error": {"Code": code, "Message": "arn:aws:dynamodb:secret-table"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            "PutItem",
        )

    # When
    throttled = map_error(client_error("ProvisionedThroughputExceededException", 400), what="write log")
    outage = map_error(client_error("InternalServerError", 500), what="write log")
    condition = map_error(client_error("ConditionalCheckFailedException", 400), what="write log")
    # Then
    assert type(throttled) is StorageError and type(outage) is StorageError
    assert isinstance(condition, Conflict)
    for error in (throttled, outage, condition):
        assert "arn:aws" not in str(error)
        assert error.details["aws_message"] == "arn:aws:dynamodb:secret-table"


def test_a_sell_after_a_buy_keeps_the_account_consistent(strategy_id: str) -> None:
    # Given a position bought in one run
    runs, accounts = RunRepository(), AccountRepository()
    runs.commit_run(trade_run(strategy_id, 1))
    before = accounts.get(strategy_id)
    assert before is not None
    sell = make_trade(
        strategy_id,
        seq=2,
        market_id="m1",
        slot_key="s2",
        side=Side.SELL,
        shares=Decimal(10),
        price=Decimal("0.6"),
        fee_usd=Decimal(0),
    )
    # When
    runs.commit_run(
        RunCommit(
            strategy_id=strategy_id,
            trades=[sell],
            account_before=before,
            account_after=apply_to_account(before, [sell]),
        )
    )
    # Then
    account = accounts.get(strategy_id)
    assert account is not None
    assert account.positions == {} and account.cash_usd == Decimal("1000.75") and account.trade_seq == 2


def test_accounts_holding_positions_are_in_the_settle_index_until_they_hold_nothing(strategy_id: str) -> None:
    # Given an account that bought one position (no known end date: checked from when it opened)
    runs, accounts = RunRepository(), AccountRepository()
    runs.commit_run(trade_run(strategy_id, 1))
    # When / Then
    assert accounts.query_settle_due(now=T0, limit=10) == [strategy_id]
    assert accounts.query_settle_due(now=T0 - timedelta(seconds=1), limit=10) == []
    # When the market awaits resolution, the check moves forward
    assert accounts.push_settle_check(strategy_id, at=T0 + timedelta(hours=1))
    assert accounts.query_settle_due(now=T0 + timedelta(minutes=59), limit=10) == []
    assert accounts.query_settle_due(now=T0 + timedelta(hours=1), limit=10) == [strategy_id]
    # When the position is sold, the account leaves the index
    before = accounts.get(strategy_id)
    assert before is not None
    sell = make_trade(
        strategy_id,
        seq=2,
        market_id="m1",
        slot_key="s2",
        side=Side.SELL,
        shares=Decimal(10),
        fee_usd=Decimal(0),
    )
    runs.commit_run(
        RunCommit(
            strategy_id=strategy_id,
            trades=[sell],
            account_before=before,
            account_after=apply_to_account(before, [sell]),
        )
    )
    assert accounts.query_settle_due(now=T0 + timedelta(days=1), limit=10) == []
    assert not accounts.push_settle_check(strategy_id, at=T0)


def test_reopening_an_account_takes_it_out_of_the_settle_index(strategy_id: str) -> None:
    # Given an account holding a position
    accounts = AccountRepository()
    RunRepository().commit_run(trade_run(strategy_id, 2))
    assert accounts.query_settle_due(now=T0, limit=10) == [strategy_id]
    # When
    accounts.open(strategy_id, bankroll=Decimal(1000), epoch=1, now=T0)
    # Then
    assert accounts.query_settle_due(now=T0 + timedelta(days=1), limit=10) == []
