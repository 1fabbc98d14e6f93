"""The kill switch's side of the strategy use cases (issue 14): pause every running strategy of an owner,
resume only those it paused, and refuse start and resume while it is on."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from engine.errors import Conflict, InvalidTransition, KillSwitchActive, PreconditionFailed, StrategyNotFound
from engine.models.strategy import Action, Strategy, StrategyStatus
from engine.services import risk
from engine.services import strategies as use_cases
from engine.storage.risk import RiskRepository

PAGE = 100


def _owned(owner: str, stores: use_cases.Stores) -> list[Strategy]:
    found: list[Strategy] = []
    token: str | None = None
    while True:
        page = stores.strategies.list_by_owner(owner, limit=PAGE, next_token=token)
        found += page.items
        token = page.next_token
        if not token:
            return found


class Pauser:
    """`risk.StrategyPauser` over the strategy use cases' storage."""

    def __init__(self, stores: use_cases.Stores) -> None:
        self.stores = stores

    def pause_running(self, owner: str, *, reason: str, now: datetime) -> list[str]:
        paused: list[str] = []
        for strategy in _owned(owner, self.stores):
            if strategy.status is not StrategyStatus.RUNNING:
                continue
            try:
                self.stores.strategies.update(
                    strategy.strategy_id,
                    owner=owner,
                    expected_version=strategy.version,
                    allowed_status={StrategyStatus.RUNNING},
                    set_fields={"status": StrategyStatus.PAUSED, "pause_reason": reason},
                    now=now,
                )
            except (PreconditionFailed, InvalidTransition, StrategyNotFound, Conflict):
                # changed meanwhile (paused, stopped, deleted or edited): read again once
                try:
                    current = self.stores.strategies.get(strategy.strategy_id, owner=owner)
                except StrategyNotFound:
                    continue
                if current.status is not StrategyStatus.RUNNING:
                    continue
                self.stores.strategies.update(
                    current.strategy_id,
                    owner=owner,
                    expected_version=current.version,
                    allowed_status={StrategyStatus.RUNNING},
                    set_fields={"status": StrategyStatus.PAUSED, "pause_reason": reason},
                    now=now,
                )
            paused.append(strategy.strategy_id)
        return paused

    def resume_paused(
        self, owner: str, strategy_ids: Iterable[str], *, reason: str, now: datetime
    ) -> list[str]:
        resumed: list[str] = []
        for strategy_id in strategy_ids:
            try:
                current = self.stores.strategies.get(strategy_id, owner=owner)
            except StrategyNotFound:
                continue  # deleted while halted
            if current.status is not StrategyStatus.PAUSED or current.pause_reason != reason:
                continue  # the owner changed it meanwhile: not ours to resume
            use_cases.change_state(strategy_id, Action.RESUME, owner=owner, now=now, stores=self.stores)
            resumed.append(strategy_id)
        return resumed


def change_state(
    strategy_id: str, action: Action, *, owner: str, now: datetime, stores: use_cases.Stores
) -> Strategy:
    """`strategies.change_state`; start and resume are 409 kill_switch_active while the switch is on."""
    if action in (Action.START, Action.RESUME):
        stores.strategies.get(strategy_id, owner=owner)  # a foreign or missing strategy stays a 404
        kill = risk.kill_switch_on(owner, risk=RiskRepository(stores.strategies.clients))
        if kill is not None:
            raise KillSwitchActive(
                f"the kill switch is on ({kill.mode}); release it first",
                details={"mode": kill.mode, "since": kill.since.isoformat().replace("+00:00", "Z")},
            )
    return use_cases.change_state(strategy_id, action, owner=owner, now=now, stores=stores)


__all__ = ["Pauser", "change_state"]
