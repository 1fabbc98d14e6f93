"""The portfolio read model on a hand-computed ledger, and equity history thinning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.ledger import LedgerState, replay
from engine.models.portfolio import EquityPoint
from engine.models.trading import Side, Trade, TradeReason
from engine.portfolio import Mark, StoredEquityPoint, build_portfolio, equity_point_keys, select_equity_curve

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BANKROLL = D(1000)


def trade(
    seq: int,
    side: Side,
    token: str,
    shares: str,
    price: str,
    fee: str,
    at: datetime,
    reason: TradeReason = TradeReason.ENTRY,
) -> Trade:
    return Trade(
        trade_id=f"t-{seq}",
        strategy_id="s-1",
        seq=seq,
        market_id=f"m-{token}",
        token_id=token,
        outcome="YES",
        outcome_label="Yes",
        question=f"Will {token} happen?",
        side=side,
        shares=D(shares),
        price=D(price),
        fee_usd=D(fee),
        notional_usd=D(shares) * D(price),
        created_at=at,
        reason=reason,
    )


def hand_ledger() -> list[Trade]:
    """Bankroll 1000. Cash after each trade on the right; P&L of each closed position in brackets.

    A: buy 100 @ 0.40 + 0.40 fee (cost 40.40), sell 50 @ 0.60 - 0.30 fee (29.70, releases 20.20: +9.50),
       settle 50 @ 1 (50, releases 20.20: +29.80)                                            [A +39.30 win]
    B: buy 50 @ 0.20 + 0.10 (10.10), settles at 0                                            [B -10.10 loss]
    C: buy 20 @ 0.50 (10.00), sell 20 @ 0.40 (8.00)                                          [C  -2.00 loss]
    D: buy 10 @ 0.30 + 0.10 (3.10), sell 10 @ 0.25 (2.50)                                    [D  -0.60 loss]
    E: buy 40 @ 0.50 + 0.20 (20.20), sell 40 @ 0.80 - 0.32 (31.68)                           [E +11.48 win]
    F: buy 100 @ 0.30 + 0.21 (30.21), open; G: buy 10 @ 0.60 (6.00), open
    """
    h = timedelta(hours=1)
    return [
        trade(1, Side.BUY, "A", "100", "0.40", "0.40", T0),  # 959.60
        trade(2, Side.SELL, "A", "50", "0.60", "0.30", T0 + 2 * h, TradeReason.TAKE_PROFIT),  # 989.30
        trade(3, Side.BUY, "B", "50", "0.20", "0.10", T0 + 3 * h),  # 979.20
        trade(4, Side.SETTLE, "A", "50", "1", "0", T0 + 24 * h, TradeReason.RESOLUTION),  # 1029.20
        trade(5, Side.SETTLE, "B", "50", "0", "0", T0 + 25 * h, TradeReason.RESOLUTION),  # 1029.20
        trade(6, Side.BUY, "C", "20", "0.50", "0", T0 + 26 * h),  # 1019.20
        trade(7, Side.SELL, "C", "20", "0.40", "0", T0 + 28 * h, TradeReason.STOP_LOSS),  # 1027.20
        trade(8, Side.BUY, "D", "10", "0.30", "0.10", T0 + 29 * h),  # 1024.10
        trade(9, Side.SELL, "D", "10", "0.25", "0", T0 + 30 * h, TradeReason.STOP_LOSS),  # 1026.60
        trade(10, Side.BUY, "E", "40", "0.50", "0.20", T0 + 48 * h),  # 1006.40
        trade(11, Side.SELL, "E", "40", "0.80", "0.32", T0 + 60 * h, TradeReason.TAKE_PROFIT),  # 1038.08
        trade(12, Side.BUY, "F", "100", "0.30", "0.21", T0 + 72 * h),  # 1007.87
        trade(13, Side.BUY, "G", "10", "0.60", "0", T0 + 73 * h),  # 1001.87
    ]


def hand_state() -> LedgerState:
    return replay(BANKROLL, hand_ledger())


# F's market closed and awaits resolution, marked at 0.35; G was bought in the last run and has no mark yet.
HAND_MARKS = {"F": Mark(price=D("0.35"), status="awaiting_resolution", at=T0 + 74 * timedelta(hours=1))}


def test_portfolio_totals_match_the_hand_computed_ledger() -> None:
    # Given the hand ledger and F marked at 0.35
    state = hand_state()

    # When the read model is built
    portfolio = build_portfolio(
        state, strategy_id="s-1", marks=HAND_MARKS, updated_at=T0 + 74 * timedelta(hours=1)
    )

    # Then cash is 1001.87, positions are worth 35 (F: 100 x 0.35) + 6 (G at cost) = 41
    assert portfolio.cash_usd == D("1001.87")
    assert portfolio.positions_value_usd == D("41")
    assert portfolio.equity_usd == D("1042.87")
    # realized: 39.30 - 10.10 - 2.00 - 0.60 + 11.48 = 38.08; unrealized: F 35 - 30.21 = 4.79, G 0
    assert portfolio.realized_pnl_usd == D("38.08")
    assert portfolio.unrealized_pnl_usd == D("4.79")
    assert portfolio.total_pnl_usd == D("42.87")
    assert portfolio.roi_pct == D("4.287")
    assert (portfolio.wins, portfolio.losses, portfolio.win_rate) == (2, 3, D("0.4"))
    # fees: 0.40 + 0.30 + 0.10 + 0.10 + 0.20 + 0.32 + 0.21
    assert portfolio.fees_paid_usd == D("1.63")
    assert portfolio.open_positions_count == 2
    assert portfolio.settled_markets_count == 2
    assert portfolio.bankroll_usd == BANKROLL


def test_total_pnl_equals_realized_plus_unrealized() -> None:
    # Given the hand ledger with F marked below and above its cost
    state = hand_state()
    for price in ("0.10", "0.35", "0.99"):
        marks = {"F": Mark(price=D(price), status="open", at=T0)}

        # When the read model is built
        portfolio = build_portfolio(state, strategy_id="s-1", marks=marks, updated_at=T0)

        # Then equity - bankroll is exactly realized + unrealized
        assert portfolio.total_pnl_usd == portfolio.realized_pnl_usd + portfolio.unrealized_pnl_usd
        assert portfolio.unrealized_pnl_usd == D(100) * D(price) - D("30.21")


def test_positions_carry_mark_status_and_fall_back_to_cost_without_a_mark() -> None:
    # Given the hand ledger, F awaiting resolution and G without a mark
    state = hand_state()

    # When the read model is built
    portfolio = build_portfolio(state, strategy_id="s-1", marks=HAND_MARKS, updated_at=T0)

    # Then F shows its mark and the awaiting_resolution status, G is open and valued at what it cost
    f, g = portfolio.positions
    assert (f.token_id, f.status, f.shares, f.cost_usd) == ("F", "awaiting_resolution", D(100), D("30.21"))
    assert (f.avg_price, f.mark_price, f.value_usd, f.unrealized_pnl_usd) == (
        D("0.3021"),
        D("0.35"),
        D("35"),
        D("4.79"),
    )
    assert (g.token_id, g.status, g.avg_price, g.mark_price, g.value_usd, g.unrealized_pnl_usd) == (
        "G",
        "open",
        D("0.6"),
        D("0.6"),
        D("6"),
        D("0"),
    )
    assert (f.market_id, f.question, f.outcome, f.outcome_label) == ("m-F", "Will F happen?", "YES", "Yes")


def test_portfolio_of_a_fresh_bankroll_has_no_win_rate() -> None:
    # Given a strategy that has not traded
    state = LedgerState.opening(D(500))

    # When the read model is built
    portfolio = build_portfolio(state, strategy_id="s-1", marks={}, updated_at=T0)

    # Then everything is the bankroll and the win rate is unknown, not zero
    assert (portfolio.cash_usd, portfolio.equity_usd, portfolio.total_pnl_usd) == (D(500), D(500), D(0))
    assert (portfolio.roi_pct, portfolio.win_rate, portfolio.positions) == (D(0), None, [])


def test_portfolio_serialises_money_as_json_numbers() -> None:
    # Given the hand portfolio
    portfolio = build_portfolio(hand_state(), strategy_id="s-1", marks=HAND_MARKS, updated_at=T0)

    # When it is dumped for a response
    body = portfolio.model_dump(mode="json")

    # Then money is a number and times end in Z
    assert body["cash_usd"] == 1001.87
    assert body["positions"][0]["mark_price"] == 0.35
    assert body["updated_at"] == "2026-01-01T00:00:00Z"


def test_equity_point_keys_name_minute_hour_and_day_with_their_ttls() -> None:
    # Given a point at 10:37:42.5 on 2026-03-05
    at = datetime(2026, 3, 5, 10, 37, 42, 500_000, tzinfo=UTC)

    # When its keys are computed
    keys = equity_point_keys(at)

    # Then it lands in the minute (kept a day), the hour (31 days) and the day (kept) tiers
    epoch = int(at.timestamp())
    assert keys == [
        ("EQ#m#2026-03-05T10:37:00Z", epoch + 86_400),
        ("EQ#h#2026-03-05T10:00:00Z", epoch + 31 * 86_400),
        ("EQ#d#2026-03-05", None),
    ]


def test_later_points_of_the_same_hour_share_the_hour_and_day_keys() -> None:
    # Given two points in the same hour, in different minutes
    first = equity_point_keys(datetime(2026, 3, 5, 10, 1, tzinfo=UTC))
    last = equity_point_keys(datetime(2026, 3, 5, 10, 59, 59, tzinfo=UTC))

    # When their keys are compared
    same = [a[0] == b[0] for a, b in zip(first, last, strict=True)]

    # Then the last overwrites the hour and day items and keeps its own minute item
    assert same == [False, True, True]


def stored(at: datetime, equity: str) -> list[StoredEquityPoint]:
    point = EquityPoint(at=at, equity_usd=D(equity), cash_usd=D(equity), positions_value_usd=D(0))
    return [StoredEquityPoint(key, point, ttl) for key, ttl in equity_point_keys(at)]


def test_equity_curve_merges_minutes_hours_and_days_and_drops_expired_items() -> None:
    # Given points written over 40 days, read back at `now` before TTL deleted anything
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    items = [
        *stored(now - timedelta(days=40, minutes=30), "900"),  # day tier only (40 days old)
        *stored(now - timedelta(days=40), "910"),  # same day, later: overwrites the day item
        *stored(now - timedelta(days=3, minutes=10), "950"),  # hour tier
        *stored(now - timedelta(days=3, minutes=5), "955"),  # same hour, later: overwrites the hour item
        *stored(now - timedelta(hours=2), "990"),  # minute tier
        *stored(now - timedelta(minutes=1), "1000"),  # minute tier
    ]
    latest: dict[str, StoredEquityPoint] = {item.sort_key: item for item in items}  # what a table would hold

    # When the display curve is selected
    curve = select_equity_curve(latest.values(), now=now)

    # Then each age shows one tier: the day's last, the hour's last, every recent minute
    assert [(p.at, p.equity_usd) for p in curve] == [
        (now - timedelta(days=40), D(910)),
        (now - timedelta(days=3, minutes=5), D(955)),
        (now - timedelta(hours=2), D(990)),
        (now - timedelta(minutes=1), D(1000)),
    ]


def test_equity_curve_ignores_items_past_their_ttl() -> None:
    # Given a minute item whose TTL passed but that the table still returns
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    at = now - timedelta(hours=3)
    point = EquityPoint(at=at, equity_usd=D(1), cash_usd=D(1), positions_value_usd=D(0))
    expired = StoredEquityPoint("EQ#m#2026-03-10T09:00:00Z", point, int(now.timestamp()) - 1)

    # When the display curve is selected
    curve = select_equity_curve([expired], now=now)

    # Then it is not shown
    assert curve == []
