"""Portfolios table: the account (`ACCOUNT`), the read model (`PORTFOLIO`) and equity points (`EQ#...`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.models.portfolio import EquityPoint, Portfolio
from engine.models.trading import Account
from engine.storage.dynamo import StorageClients

ACCOUNT_SK = "ACCOUNT"
PORTFOLIO_SK = "PORTFOLIO"
EQUITY_PREFIX = "EQ#"


class AccountRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        raise NotImplementedError

    def item_for(self, account: Account, *, version: int) -> dict[str, Any]:
        raise NotImplementedError

    def get(self, strategy_id: str) -> Account | None:
        raise NotImplementedError

    def open(self, strategy_id: str, *, bankroll: Decimal, epoch: int, now: datetime) -> Account:
        """A fresh account (cash = bankroll, no positions); the stored version keeps counting."""
        raise NotImplementedError


class PortfolioRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        raise NotImplementedError

    def get_state(self, strategy_id: str) -> tuple[dict[str, Any] | None, int]:
        """(the stored sync state or None, its applied_seq; 0 when there is no item)."""
        raise NotImplementedError

    def put_state(
        self,
        strategy_id: str,
        *,
        state: dict[str, Any],
        portfolio: Portfolio,
        expected_applied_seq: int | None,
        epoch: int,
    ) -> bool:
        """Write state and read model if the item still has `expected_applied_seq`; False otherwise."""
        raise NotImplementedError

    def get_portfolio(self, strategy_id: str) -> Portfolio | None:
        raise NotImplementedError

    def reset(self, strategy_id: str, *, bankroll: Decimal, epoch: int, now: datetime) -> Portfolio:
        """A fresh portfolio for a new epoch (redeploy); the old equity points go."""
        raise NotImplementedError

    def put_equity_point(self, strategy_id: str, key: str, ttl: int | None, point: EquityPoint) -> None:
        raise NotImplementedError

    def equity_points(self, strategy_id: str, *, now: datetime) -> list[tuple[str, EquityPoint]]:
        """(key, point) in key order, skipping items whose TTL has passed."""
        raise NotImplementedError
