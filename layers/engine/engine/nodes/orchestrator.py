"""ORCHESTRATOR: turns the filtered markets and the current account into orders (DESIGN 5), saying why.

Exits come first, so the positions they free count towards `max_positions` in the same run. Entries then
take one position per market, sized from the bankroll and capped by `max_position_usd` and by the cash above
the reserve. The node only decides: the paper broker prices the orders against the books, and may still
reduce or reject them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.market.types import Market, OutcomeToken
from engine.models.trading import Holding, Order, OutcomeSide, TradeReason
from engine.money import ZERO, usd
from engine.nodes.base import INCLUDE, Category, NodeOutput, RunContext
from engine.nodes.registry import register

HUNDRED = Decimal(100)


class OrchestratorConfig(BaseModel):
    """The config keys of DESIGN 5; unknown keys are rejected. Percentages are 0..100, not fractions."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["YES", "NO", "CHEAPER"]
    position_size_usd: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)
    position_size_pct: Decimal | None = Field(default=None, gt=0, le=100, allow_inf_nan=False)
    max_positions: int = Field(default=5, ge=1)
    max_position_usd: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)
    cash_reserve_pct: Decimal = Field(default=Decimal(0), ge=0, le=100, allow_inf_nan=False)
    take_profit_pct: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)
    stop_loss_pct: Decimal | None = Field(default=None, gt=0, le=100, allow_inf_nan=False)
    exit_hours_before_close: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _exactly_one_size(self) -> OrchestratorConfig:
        if (self.position_size_usd is None) == (self.position_size_pct is None):
            raise ValueError("give exactly one of position_size_usd or position_size_pct")
        return self


def _shown(value: Decimal) -> str:
    """Decimals in the trace as short strings (JSON and DynamoDB safe, no float noise)."""
    return format(value.normalize(), "f")


def pick_outcome(market: Market, outcome: str) -> tuple[OutcomeSide, OutcomeToken] | None:
    """YES = first listed outcome, NO = second, CHEAPER = the lower listed price (YES on a tie)."""
    if len(market.outcomes) < 2:
        return None
    yes, no = market.outcomes[0], market.outcomes[1]
    if outcome == "YES":
        return "YES", yes
    if outcome == "NO":
        return "NO", no
    if yes.price is None or no.price is None:
        return None
    return ("NO", no) if no.price < yes.price else ("YES", yes)


@register
class Orchestrator:
    type_name: ClassVar[str] = "ORCHESTRATOR"
    config_model: ClassVar[type[BaseModel]] = OrchestratorConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = True
    category: ClassVar[Category] = "sink"
    title: ClassVar[str] = "Orchestrator"
    description: ClassVar[str] = (
        "Trades: exits held positions (take profit, stop loss, trailing stop, time rules), then enters the "
        "markets it receives, sized by `sizing` (fixed, percent of equity or fractional Kelly) within the "
        "`risk` limits. The paper broker fills the orders against the books."
    )
    inputs: ClassVar[tuple[int, int | None]] = (1, None)
    handles: ClassVar[tuple[str, ...]] = (INCLUDE,)
    example: ClassVar[dict[str, Any]] = {
        "outcome": "YES",
        "position_size_usd": 25,
        "max_positions": 5,
        "take_profit_pct": 20,
        "stop_loss_pct": 10,
    }

    def run(self, config: OrchestratorConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        exits, exit_decisions = self._exits(config, ctx)
        exiting = {order.market_id for order in exits}
        entries, entered, entry_decisions, skipped_by = self._entries(config, inputs, ctx, exiting)
        summary: dict[str, Any] = {
            "received": len(inputs),
            "holdings": len(ctx.account.positions),
            "exits": len(exits),
            "entries": len(entries),
            "skipped_by": skipped_by,
            "cash_usd": _shown(ctx.account.cash_usd),
        }
        # The summary comes first so it survives when the trace caps the per-market lines.
        return NodeOutput(
            markets=entered, orders=[*exits, *entries], decisions=[summary, *exit_decisions, *entry_decisions]
        )

    # ------------------------------------------------------------------ exits

    def _exits(self, config: OrchestratorConfig, ctx: RunContext) -> tuple[list[Order], list[dict[str, Any]]]:
        orders: list[Order] = []
        decisions: list[dict[str, Any]] = []
        holdings = sorted(ctx.account.positions.values(), key=lambda h: (h.market_id, h.token_id))
        for holding in holdings:
            head = {"market_id": holding.market_id, "token_id": holding.token_id}
            market = ctx.markets.market(holding.market_id)
            if market is None:
                decisions.append({**head, "action": "hold", "why": "market_unavailable"})
                continue
            if market.closed or market.awaiting_resolution() or not market.accepting_orders:
                # settlement pays these out at the resolution price; selling into a dead book would not
                decisions.append({**head, "action": "hold", "why": "awaiting_resolution"})
                continue
            reason, facts = self._exit_reason(config, holding, market, ctx)
            if reason is None:
                decisions.append({**head, "action": "hold", **facts})
                continue
            orders.append(
                Order(
                    market_id=holding.market_id,
                    token_id=holding.token_id,
                    outcome=holding.outcome,
                    outcome_label=holding.outcome_label,
                    question=holding.question or market.question,
                    side="SELL",
                    reason=reason,
                    shares=holding.shares,
                    end_date=market.end_date,
                )
            )
            decisions.append(
                {**head, "action": "exit", "why": reason.value, "shares": _shown(holding.shares), **facts}
            )
        return orders, decisions

    @staticmethod
    def _exit_reason(
        config: OrchestratorConfig, holding: Holding, market: Market, ctx: RunContext
    ) -> tuple[TradeReason | None, dict[str, Any]]:
        facts: dict[str, Any] = {}
        book = ctx.markets.book(holding.token_id)
        bid = book.best_bid if book is not None else None
        if bid is None:
            # no bid: nothing to value the position at, and nothing a SELL could fill against
            facts["why"] = "no_bid"
            return None, facts
        avg = holding.avg_price
        facts.update(bid=_shown(bid.price), avg_price=_shown(usd(avg)))
        if avg > ZERO:
            change_pct = (bid.price - avg) / avg * HUNDRED
            facts["change_pct"] = _shown(change_pct.quantize(Decimal("0.01")))
            if config.take_profit_pct is not None and change_pct >= config.take_profit_pct:
                return TradeReason.TAKE_PROFIT, facts
            if config.stop_loss_pct is not None and -change_pct >= config.stop_loss_pct:
                return TradeReason.STOP_LOSS, facts
        hours = market.hours_to_close(ctx.slot)
        if hours is not None:
            facts["hours_to_close"] = _shown(hours.quantize(Decimal("0.01")))
            if config.exit_hours_before_close is not None and hours <= config.exit_hours_before_close:
                return TradeReason.TIME_EXIT, facts
        facts["why"] = "no_exit_condition"
        return None, facts

    # ---------------------------------------------------------------- entries

    def _entries(
        self, config: OrchestratorConfig, inputs: list[Market], ctx: RunContext, exiting: set[str]
    ) -> tuple[list[Order], list[Market], list[dict[str, Any]], dict[str, int]]:
        orders: list[Order] = []
        entered: list[Market] = []
        decisions: list[dict[str, Any]] = []
        skipped_by: dict[str, int] = {}
        held_markets = {h.market_id for h in ctx.account.positions.values()}
        open_positions = len(held_markets - exiting)
        bankroll = ctx.bankroll_usd
        if config.position_size_usd is not None:
            base_size = config.position_size_usd
        else:
            assert config.position_size_pct is not None
            base_size = bankroll * config.position_size_pct / HUNDRED
        if config.max_position_usd is not None:
            base_size = min(base_size, config.max_position_usd)
        reserve = bankroll * config.cash_reserve_pct / HUNDRED
        spendable = ctx.account.cash_usd - reserve

        def skip(market: Market, why: str, **facts: Any) -> None:
            skipped_by[why] = skipped_by.get(why, 0) + 1
            decisions.append({"market_id": market.market_id, "action": "skip", "why": why, **facts})

        seen: set[str] = set()
        for market in inputs:
            if market.market_id in seen:
                continue
            seen.add(market.market_id)
            if market.market_id in exiting:
                skip(market, "exiting_this_run")
                continue
            if market.market_id in held_markets:
                skip(market, "already_held")
                continue
            if market.closed or not market.active or not market.accepting_orders:
                skip(market, "not_accepting_orders")
                continue
            picked = pick_outcome(market, config.outcome)
            if len(market.outcomes) < 2 or not all(t.token_id for t in market.outcomes[:2]):
                skip(market, "missing_token")
                continue
            if picked is None:  # CHEAPER needs both listed prices
                skip(market, "missing_price")
                continue
            hours = market.hours_to_close(ctx.slot)
            if (
                config.exit_hours_before_close is not None
                and hours is not None
                and hours <= config.exit_hours_before_close
            ):
                skip(market, "closing_soon", hours_to_close=_shown(hours.quantize(Decimal("0.01"))))
                continue
            if open_positions >= config.max_positions:
                skip(market, "max_positions")
                continue
            size = usd(min(base_size, spendable))
            if size <= ZERO:
                skip(market, "insufficient_cash", spendable_usd=_shown(usd(max(spendable, ZERO))))
                continue
            outcome, token = picked
            orders.append(
                Order(
                    market_id=market.market_id,
                    token_id=token.token_id,
                    outcome=outcome,
                    outcome_label=token.label,
                    question=market.question,
                    side="BUY",
                    reason=TradeReason.ENTRY,
                    usd=size,
                    end_date=market.end_date,
                )
            )
            entered.append(market)
            spendable -= size
            open_positions += 1
            facts: dict[str, Any] = {"outcome": outcome, "label": token.label, "usd": _shown(size)}
            if token.price is not None:
                facts["listed_price"] = _shown(token.price)
            decisions.append({"market_id": market.market_id, "action": "enter", **facts})
        return orders, entered, decisions, skipped_by
