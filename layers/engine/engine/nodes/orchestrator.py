"""ORCHESTRATOR: turns the filtered markets and the current account into orders (DESIGN 5), saying why.

Exits come first, so the positions they free count towards `max_positions` in the same run. Entries then
take one position per market, sized from the bankroll and capped by `max_position_usd` and by the cash above
the reserve. The node only decides: the paper broker prices the orders against the books, and may still
reduce or reject them.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.clock import iso, parse_iso
from engine.market.types import Market, OutcomeToken
from engine.models.base import Model
from engine.models.trading import Holding, Order, OutcomeSide, TradeReason
from engine.money import ZERO, usd
from engine.nodes.base import INCLUDE, Category, NodeOutput, RunContext
from engine.nodes.registry import register

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


Pct = Decimal
_POS = {"gt": 0, "allow_inf_nan": False}


class SizingConfig(Model):
    """How much each entry spends. Every size is then capped by `max_usd`, the risk's `max_position_usd` and
    the cash above the reserve; a size under `min_usd` is not placed."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["fixed_usd", "pct_equity", "kelly"] = Field(
        description="`fixed_usd`: `usd` a position; `pct_equity`: `pct` of current equity; `kelly`: "
        "`kelly_fraction` of the Kelly stake on current equity (fee-aware; no bet without a positive edge)."
    )
    usd: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="fixed_usd: USD a position."
    )
    pct: Decimal | None = Field(
        default=None, gt=0, le=100, allow_inf_nan=False, description="pct_equity: percent of equity."
    )
    kelly_fraction: Decimal = Field(
        default=Decimal("0.25"), gt=0, le=1, allow_inf_nan=False, description="kelly: the fraction of Kelly."
    )
    probability_field: str | None = Field(
        default=None,
        description="kelly: an annotated field holding the YES probability (0..1); NO uses 1 minus it.",
    )
    edge: Decimal | None = Field(
        default=None,
        gt=-1,
        lt=1,
        allow_inf_nan=False,
        description="kelly: the win probability is the outcome's price plus this edge.",
    )
    min_usd: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Smaller sizes are skipped."
    )
    max_usd: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False, description="The largest size.")

    @model_validator(mode="after")
    def _mode_keys(self) -> SizingConfig:
        if self.mode == "fixed_usd" and self.usd is None:
            raise ValueError("sizing mode fixed_usd needs `usd`")
        if self.mode == "pct_equity" and self.pct is None:
            raise ValueError("sizing mode pct_equity needs `pct`")
        if self.mode == "kelly" and (self.probability_field is None) == (self.edge is None):
            raise ValueError("sizing mode kelly needs exactly one of `probability_field` or `edge`")
        if self.min_usd is not None and self.max_usd is not None and self.min_usd > self.max_usd:
            raise ValueError("`min_usd` must not exceed `max_usd`")
        return self


class ExitsConfig(Model):
    """When held positions are sold (percentages are 0..100 of the entry price)."""

    model_config = ConfigDict(extra="forbid")

    take_profit_pct: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Gain to sell at."
    )
    stop_loss_pct: Decimal | None = Field(
        default=None, gt=0, le=100, allow_inf_nan=False, description="Loss to sell at."
    )
    trailing_stop_pct: Decimal | None = Field(
        default=None,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="Sell when the bid falls this far below its highest since entry.",
    )
    max_hold_hours: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Sell after holding this long."
    )
    exit_hours_before_close: Decimal | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="Sell (and do not enter) this close to the end."
    )
    hold_to_resolution: bool = Field(
        default=False, description="Never sell: positions settle at resolution (no other exit rule allowed)."
    )

    @model_validator(mode="after")
    def _hold_alone(self) -> ExitsConfig:
        rules = [
            self.take_profit_pct,
            self.stop_loss_pct,
            self.trailing_stop_pct,
            self.max_hold_hours,
            self.exit_hours_before_close,
        ]
        if self.hold_to_resolution and any(r is not None for r in rules):
            raise ValueError("hold_to_resolution takes no other exit rule")
        return self


class RiskConfig(Model):
    """Limits on entries (percentages are 0..100)."""

    model_config = ConfigDict(extra="forbid")

    max_positions: int = Field(default=5, ge=1, description="Open positions at most.")
    max_position_usd: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="USD per entry at most."
    )
    cash_reserve_pct: Decimal = Field(
        default=Decimal(0), ge=0, le=100, allow_inf_nan=False, description="Bankroll share never spent."
    )
    max_event_exposure_pct: Decimal | None = Field(
        default=None,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="Cost held in one event (a neg-risk ladder is one event) at most, of equity.",
    )
    daily_loss_stop_pct: Decimal | None = Field(
        default=None,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="No entries for the rest of the day (strategy timezone) once equity fell this far below "
        "its value at the day's first run.",
    )
    max_drawdown_pause_pct: Decimal | None = Field(
        default=None,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="Pause the strategy (auto:max_drawdown) when equity falls this far below its peak.",
    )
    cooldown_minutes: int | None = Field(
        default=None, ge=1, le=100_000, description="No re-entry into a market this soon after exiting it."
    )


class OrchestratorConfig(Model):
    """The config keys of DESIGN 5; unknown keys are rejected. Percentages are 0..100, not fractions.

    v1's flat keys still work and mean what they meant; the `sizing`, `exits` and `risk` sections are v2.
    A flat key and its section cannot both be given.
    """

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["YES", "NO", "CHEAPER"] = Field(
        description="YES: the first outcome; NO: the second; CHEAPER: the lower listed price."
    )
    position_size_usd: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="v1: USD a position (= sizing fixed_usd)."
    )
    position_size_pct: Decimal | None = Field(
        default=None, gt=0, le=100, allow_inf_nan=False, description="v1: percent of the bankroll a position."
    )
    max_positions: int = Field(default=5, ge=1, description="v1 flat risk key.")
    max_position_usd: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="v1 flat risk key."
    )
    cash_reserve_pct: Decimal = Field(
        default=Decimal(0), ge=0, le=100, allow_inf_nan=False, description="v1 flat risk key."
    )
    take_profit_pct: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="v1 flat exit key."
    )
    stop_loss_pct: Decimal | None = Field(
        default=None, gt=0, le=100, allow_inf_nan=False, description="v1 flat exit key."
    )
    exit_hours_before_close: Decimal | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="v1 flat exit key."
    )
    # Gamma keeps some markets open and accepting orders past their end date while the outcome is settled.
    allow_entries_past_end_date: bool = Field(
        default=False, description="Enter markets past their end date or awaiting resolution."
    )
    sizing: SizingConfig | None = None
    exits: ExitsConfig | None = None
    risk: RiskConfig | None = None

    @model_validator(mode="after")
    def _exactly_one_size(self) -> OrchestratorConfig:
        sizes = [self.position_size_usd, self.position_size_pct, self.sizing]
        if sum(size is not None for size in sizes) != 1:
            raise ValueError("give exactly one of position_size_usd, position_size_pct or sizing")
        flat = self.model_fields_set
        if self.exits is not None and flat & {"take_profit_pct", "stop_loss_pct", "exit_hours_before_close"}:
            raise ValueError("give exit rules either flat (v1) or in `exits`, not both")
        if self.risk is not None and flat & {"max_positions", "max_position_usd", "cash_reserve_pct"}:
            raise ValueError("give risk limits either flat (v1) or in `risk`, not both")
        return self

    @property
    def effective_exits(self) -> ExitsConfig:
        if self.exits is not None:
            return self.exits
        return ExitsConfig(
            take_profit_pct=self.take_profit_pct,
            stop_loss_pct=self.stop_loss_pct,
            exit_hours_before_close=self.exit_hours_before_close,
        )

    @property
    def effective_risk(self) -> RiskConfig:
        if self.risk is not None:
            return self.risk
        return RiskConfig(
            max_positions=self.max_positions,
            max_position_usd=self.max_position_usd,
            cash_reserve_pct=self.cash_reserve_pct,
        )

    @property
    def is_v1(self) -> bool:
        return self.sizing is None and self.exits is None and self.risk is None

    def fields(self) -> set[str]:
        """Annotated fields this node reads (graph validation checks a node upstream writes them)."""
        if self.sizing is not None and self.sizing.probability_field is not None:
            return {self.sizing.probability_field}
        return set()


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
        exits_cfg, risk_cfg = config.effective_exits, config.effective_risk
        state = _RiskState.of(ctx) if _needs_state(exits_cfg, risk_cfg) else None
        exits, exit_decisions = self._exits(config, exits_cfg, ctx, state)
        exiting = {order.market_id for order in exits}
        gate: dict[str, Any] = {}
        if state is not None:
            gate = self._risk_gate(risk_cfg, ctx, state)
            for order in exits:
                state.exits[order.market_id] = iso(ctx.slot)
        entries, entered, entry_decisions, skipped_by = self._entries(
            config, risk_cfg, inputs, ctx, exiting=exiting, state=state, blocked=gate.get("blocked")
        )
        summary: dict[str, Any] = {
            "received": len(inputs),
            "holdings": len(ctx.account.positions),
            "exits": len(exits),
            "entries": len(entries),
            "skipped_by": skipped_by,
            "cash_usd": _shown(ctx.account.cash_usd),
        }
        if gate:
            summary["risk"] = {k: v for k, v in gate.items() if k != "blocked"} | (
                {"entries_blocked": gate["blocked"]} if gate.get("blocked") else {}
            )
        if state is not None:
            state.store(ctx)
        # The summary comes first so it survives when the trace caps the per-market lines.
        return NodeOutput(
            markets=entered, orders=[*exits, *entries], decisions=[summary, *exit_decisions, *entry_decisions]
        )

    # ------------------------------------------------------------------ risk

    @staticmethod
    def _risk_gate(risk: RiskConfig, ctx: RunContext, state: _RiskState) -> dict[str, Any]:
        """Equity against its day start and its peak: whether entries are blocked, and the pause."""
        equity = _equity(ctx)
        facts: dict[str, Any] = {"equity_usd": _shown(usd(equity))}
        day = ctx.slot.astimezone(ZoneInfo(ctx.timezone)).date().isoformat()
        if state.day != day or state.day_start_equity is None:
            state.day, state.day_start_equity = day, equity
        if state.peak_equity is None or equity > state.peak_equity:
            state.peak_equity = equity
        if risk.daily_loss_stop_pct is not None and state.day_start_equity > ZERO:
            loss_pct = (state.day_start_equity - equity) / state.day_start_equity * HUNDRED
            facts["day_loss_pct"] = _shown(loss_pct.quantize(Decimal("0.01")))
            if loss_pct >= risk.daily_loss_stop_pct:
                facts["blocked"] = "daily_loss_stop"
        if risk.max_drawdown_pause_pct is not None and state.peak_equity > ZERO:
            drawdown = (state.peak_equity - equity) / state.peak_equity * HUNDRED
            facts["drawdown_pct"] = _shown(drawdown.quantize(Decimal("0.01")))
            facts["peak_equity_usd"] = _shown(usd(state.peak_equity))
            if drawdown >= risk.max_drawdown_pause_pct:
                facts["blocked"] = "max_drawdown"
                ctx.risk_state["pause_reason"] = MAX_DRAWDOWN_PAUSE
        return facts

    # ------------------------------------------------------------------ exits

    def _exits(
        self, config: OrchestratorConfig, exits_cfg: ExitsConfig, ctx: RunContext, state: _RiskState | None
    ) -> tuple[list[Order], list[dict[str, Any]]]:
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
            if exits_cfg.hold_to_resolution:
                decisions.append({**head, "action": "hold", "why": "hold_to_resolution"})
                continue
            reason, facts = self._exit_reason(exits_cfg, holding, market, ctx, state)
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
        if state is not None:  # positions gone (sold or settled) no longer need their peak
            held = set(ctx.account.positions)
            state.position_peaks = {t: p for t, p in state.position_peaks.items() if t in held}
        return orders, decisions

    @staticmethod
    def _exit_reason(
        config: ExitsConfig, holding: Holding, market: Market, ctx: RunContext, state: _RiskState | None
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
        if config.trailing_stop_pct is not None and state is not None:
            peak = max(state.position_peaks.get(holding.token_id, bid.price), bid.price)
            state.position_peaks[holding.token_id] = peak
            facts["peak_bid"] = _shown(peak)
            if peak > ZERO and (peak - bid.price) / peak * HUNDRED >= config.trailing_stop_pct:
                facts["rule"] = "trailing_stop"
                return TradeReason.STOP_LOSS, facts
        if config.max_hold_hours is not None:
            held_hours = Decimal((ctx.slot - holding.opened_at).total_seconds()) / Decimal(3600)
            if held_hours >= config.max_hold_hours:
                facts.update(rule="max_hold_hours", held_hours=_shown(held_hours.quantize(Decimal("0.01"))))
                return TradeReason.TIME_EXIT, facts
        hours = market.hours_to_close(ctx.slot)
        if hours is not None:
            facts["hours_to_close"] = _shown(hours.quantize(Decimal("0.01")))
            if config.exit_hours_before_close is not None and hours <= config.exit_hours_before_close:
                return TradeReason.TIME_EXIT, facts
        facts["why"] = "no_exit_condition"
        return None, facts

    # ---------------------------------------------------------------- entries

    def _entries(
        self,
        config: OrchestratorConfig,
        risk: RiskConfig,
        inputs: list[Market],
        ctx: RunContext,
        *,
        exiting: set[str],
        state: _RiskState | None,
        blocked: str | None,
    ) -> tuple[list[Order], list[Market], list[dict[str, Any]], dict[str, int]]:
        orders: list[Order] = []
        entered: list[Market] = []
        decisions: list[dict[str, Any]] = []
        skipped_by: dict[str, int] = {}
        exits_cfg = config.effective_exits
        held_markets = {h.market_id for h in ctx.account.positions.values()}
        open_positions = len(held_markets - exiting)
        bankroll = ctx.bankroll_usd
        sizing = config.sizing
        equity = _equity(ctx) if sizing is not None and sizing.mode != "fixed_usd" else bankroll
        if risk.max_event_exposure_pct is not None:
            equity = _equity(ctx)
        base_size: Decimal | None
        if config.position_size_usd is not None:
            base_size = config.position_size_usd
        elif config.position_size_pct is not None:
            base_size = bankroll * config.position_size_pct / HUNDRED
        else:
            assert sizing is not None
            base_size = (
                (sizing.usd if sizing.mode == "fixed_usd" else equity * (sizing.pct or ZERO) / HUNDRED)
                if sizing.mode != "kelly"
                else None
            )
        if base_size is not None and risk.max_position_usd is not None:
            base_size = min(base_size, risk.max_position_usd)
        reserve = bankroll * risk.cash_reserve_pct / HUNDRED
        spendable = ctx.account.cash_usd - reserve
        event_cost = _event_exposure(ctx) if risk.max_event_exposure_pct is not None else {}

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
            if not config.allow_entries_past_end_date:
                if market.awaiting_resolution():
                    skip(market, "awaiting_resolution")
                    continue
                if market.end_date is not None and market.end_date <= ctx.slot:
                    skip(market, "past_end_date")
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
                exits_cfg.exit_hours_before_close is not None
                and hours is not None
                and hours <= exits_cfg.exit_hours_before_close
            ):
                skip(market, "closing_soon", hours_to_close=_shown(hours.quantize(Decimal("0.01"))))
                continue
            if blocked is not None:
                skip(market, blocked)
                continue
            if state is not None and risk.cooldown_minutes is not None:
                exited = state.exits.get(market.market_id)
                if exited is not None and ctx.slot - parse_iso(exited) < timedelta(
                    minutes=risk.cooldown_minutes
                ):
                    skip(market, "cooldown", exited_at=exited)
                    continue
            if open_positions >= risk.max_positions:
                skip(market, "max_positions")
                continue
            outcome, token = picked
            kelly_facts: dict[str, Any] = {}
            if base_size is None:
                assert sizing is not None
                size_or_reason = _kelly_size(
                    sizing, market, outcome, token, equity=equity, ctx=ctx, facts=kelly_facts
                )
                if isinstance(size_or_reason, str):
                    skip(market, size_or_reason, **kelly_facts)
                    continue
                wanted = size_or_reason
                if risk.max_position_usd is not None:
                    wanted = min(wanted, risk.max_position_usd)
            else:
                wanted = base_size
            if sizing is not None and sizing.max_usd is not None:
                wanted = min(wanted, sizing.max_usd)
            if risk.max_event_exposure_pct is not None:
                event = market.event_id or f"market:{market.market_id}"
                room = equity * risk.max_event_exposure_pct / HUNDRED - event_cost.get(event, ZERO)
                if room <= ZERO:
                    skip(market, "max_event_exposure", event_id=event)
                    continue
                wanted = min(wanted, room)
            size = usd(min(wanted, spendable))
            if size <= ZERO:
                skip(market, "insufficient_cash", spendable_usd=_shown(usd(max(spendable, ZERO))))
                continue
            if sizing is not None and sizing.min_usd is not None and size < sizing.min_usd:
                skip(market, "below_min_usd", usd=_shown(size))
                continue
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
            if risk.max_event_exposure_pct is not None:
                event = market.event_id or f"market:{market.market_id}"
                event_cost[event] = event_cost.get(event, ZERO) + size
            facts: dict[str, Any] = {"outcome": outcome, "label": token.label, "usd": _shown(size)}
            if token.price is not None:
                facts["listed_price"] = _shown(token.price)
            facts.update(kelly_facts)
            decisions.append({"market_id": market.market_id, "action": "enter", **facts})
        return orders, entered, decisions, skipped_by


MAX_DRAWDOWN_PAUSE = "auto:max_drawdown"


def _needs_state(exits: ExitsConfig, risk: RiskConfig) -> bool:
    return (
        exits.trailing_stop_pct is not None
        or risk.daily_loss_stop_pct is not None
        or risk.max_drawdown_pause_pct is not None
        or risk.cooldown_minutes is not None
    )


class _RiskState:
    """What the risk rules remember between runs; kept in the account item (`risk_state`)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.peak_equity = _decimal_or_none(raw.get("peak_equity"))
        self.day: str | None = raw.get("day")
        self.day_start_equity = _decimal_or_none(raw.get("day_start_equity"))
        self.exits: dict[str, str] = dict(raw.get("exits") or {})
        self.position_peaks: dict[str, Decimal] = {
            k: d
            for k, v in (raw.get("position_peaks") or {}).items()
            if (d := _decimal_or_none(v)) is not None
        }

    @classmethod
    def of(cls, ctx: RunContext) -> _RiskState:
        return cls(ctx.risk_state or dict(ctx.account.risk_state or {}))

    def store(self, ctx: RunContext) -> None:
        horizon = ctx.slot - timedelta(days=7)  # old exits cannot matter to any cooldown we allow... mostly
        exits = {m: t for m, t in self.exits.items() if parse_iso(t) >= horizon}
        state: dict[str, Any] = {
            "peak_equity": _state_number(self.peak_equity),
            "day": self.day,
            "day_start_equity": _state_number(self.day_start_equity),
            "exits": exits,
            "position_peaks": {k: _state_number(v) for k, v in self.position_peaks.items()},
        }
        pause = ctx.risk_state.get("pause_reason")
        ctx.risk_state.clear()
        ctx.risk_state.update({k: v for k, v in state.items() if v is not None})
        if pause is not None:
            ctx.risk_state["pause_reason"] = pause


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _state_number(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.000001")).normalize(), "f")


def _mark(holding: Holding, ctx: RunContext) -> Decimal:
    """A holding's price for equity: its book's best bid, else the listed price, else what it cost."""
    book = ctx.markets.book(holding.token_id)
    if book is not None and book.best_bid is not None:
        return book.best_bid.price
    market = ctx.markets.market(holding.market_id)
    if market is not None:
        found = market.outcome_for_token(holding.token_id)
        if found is not None and found[1].price is not None:
            return found[1].price
    return holding.avg_price


def _equity(ctx: RunContext) -> Decimal:
    return ctx.account.cash_usd + sum(
        (h.shares * _mark(h, ctx) for h in ctx.account.positions.values()), ZERO
    )


def _event_exposure(ctx: RunContext) -> dict[str, Decimal]:
    """Cost held per event (markets without one are their own event)."""
    cost: dict[str, Decimal] = {}
    for holding in ctx.account.positions.values():
        market = ctx.markets.market(holding.market_id)
        event = (market.event_id if market is not None else None) or f"market:{holding.market_id}"
        cost[event] = cost.get(event, ZERO) + holding.cost_usd
    return cost


def _fee_per_share(market: Market, price: Decimal) -> Decimal:
    schedule = market.fee_schedule
    if schedule is None or not market.fees_enabled:
        return ZERO
    base = price * (Decimal(1) - price)
    if base <= ZERO:
        return ZERO
    return schedule.rate * (Decimal(1) if schedule.exponent == ZERO else base**schedule.exponent)


def _kelly_size(
    sizing: SizingConfig,
    market: Market,
    outcome: str,
    token: OutcomeToken,
    *,
    equity: Decimal,
    ctx: RunContext,
    facts: dict[str, Any],
) -> Decimal | str:
    """Fractional Kelly on equity for buying `token` at its ask (or listed price) plus the taker fee:
    f* = (q - c) / (1 - c) with c the cost per share that pays 1. A reason string when there is no bet."""
    book = ctx.markets.book(token.token_id)
    price = book.best_ask.price if book is not None and book.best_ask is not None else token.price
    if price is None or not ZERO < price < Decimal(1):
        return "missing_price"
    if sizing.probability_field is not None:
        raw = ctx.annotation(market.market_id, sizing.probability_field)
        if not isinstance(raw, Decimal) or not ZERO <= raw <= Decimal(1):
            return "missing_probability"
        probability = raw if outcome == "YES" else Decimal(1) - raw
    else:
        probability = min(max((token.price or price) + (sizing.edge or ZERO), ZERO), Decimal(1))
    cost = price + _fee_per_share(market, price)
    facts.update(
        probability=_shown(probability.quantize(Decimal("0.0001"))),
        cost=_shown(cost.quantize(Decimal("0.0001"))),
    )
    if cost >= Decimal(1) or probability <= cost:
        return "no_edge"
    kelly = (probability - cost) / (Decimal(1) - cost)
    facts["kelly"] = _shown(kelly.quantize(Decimal("0.0001")))
    return (equity * kelly * sizing.kelly_fraction).quantize(CENT, rounding=ROUND_DOWN)
