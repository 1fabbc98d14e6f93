"""When an account next needs a settlement look (the sparse settle_due index)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.models.trading import Account, Holding
from engine.storage.portfolios import SETTLE_RECHECK, settle_check_for

NOW = datetime(2026, 2, 7, 13, 0, tzinfo=UTC)


def _account(*end_dates: datetime | None) -> Account:
    positions = {
        f"tok{i}": Holding(
            token_id=f"tok{i}",
            market_id=f"m{i}",
            outcome="YES",
            outcome_label="Yes",
            shares=Decimal(10),
            cost_usd=Decimal(5),
            opened_at=NOW - timedelta(days=1),
            end_date=end,
        )
        for i, end in enumerate(end_dates)
    }
    return Account(strategy_id="s", bankroll_usd=Decimal(100), cash_usd=Decimal(95), positions=positions)


def test_an_account_holding_nothing_leaves_the_index() -> None:
    # Given / When / Then
    assert settle_check_for(_account()) is None
    assert settle_check_for(_account(), settled_at=NOW) is None


def test_before_any_settlement_the_earliest_end_date_is_when_to_look() -> None:
    # Given
    account = _account(NOW + timedelta(days=3), NOW - timedelta(hours=2))
    # When / Then
    assert settle_check_for(account) == NOW - timedelta(hours=2)


def test_just_settled_holdings_that_ended_unresolved_are_rechecked_later_not_every_minute() -> None:
    # Given: one market ended two hours ago and awaits resolution; another ends in three days
    account = _account(NOW + timedelta(days=3), NOW - timedelta(hours=2))
    # When
    check = settle_check_for(account, settled_at=NOW)
    # Then
    assert check == NOW + SETTLE_RECHECK


def test_just_settled_holdings_are_next_looked_at_when_the_first_market_ends() -> None:
    # Given
    account = _account(NOW + timedelta(minutes=5), NOW + timedelta(days=3))
    # When / Then
    assert settle_check_for(account, settled_at=NOW) == NOW + timedelta(minutes=5)
