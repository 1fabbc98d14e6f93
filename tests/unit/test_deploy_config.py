"""The deploy body (DeployConfig): bankroll, trading mode, schedule and failure rules of DESIGN 4."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from engine.models.strategy import DeployConfig


def deploy(**overrides: Any) -> DeployConfig:
    body: dict[str, Any] = {"paper_bankroll_usd": 1000, "frequency": "5m"}
    body.update(overrides)
    return DeployConfig.model_validate(body)


def errors_of(**overrides: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        deploy(**overrides)
    return [{"loc": e["loc"], "msg": e["msg"]} for e in info.value.errors()]


@pytest.mark.parametrize("bankroll", [100, "100", "100.00", 1_000_000, "1000000", 12345.67, "250.5"])
def test_bankroll_within_bounds_is_accepted_as_decimal(bankroll: Any) -> None:
    # Given a bankroll from 100 to 1,000,000 as a number or a string
    # When the deploy body is validated
    config = deploy(paper_bankroll_usd=bankroll)
    # Then it is kept as an exact Decimal
    assert isinstance(config.paper_bankroll_usd, Decimal)
    assert config.paper_bankroll_usd == Decimal(str(bankroll))


@pytest.mark.parametrize(
    "bankroll", [99, "99.99", 1_000_001, "1000000.01", 0, -100, "NaN", "Infinity", "abc"]
)
def test_bankroll_outside_bounds_or_not_a_number_is_rejected(bankroll: Any) -> None:
    # Given a bankroll below 100, above 1,000,000 or not a finite number
    # When validated / Then the error names the field
    errors = errors_of(paper_bankroll_usd=bankroll)
    assert [e["loc"] for e in errors] == [("paper_bankroll_usd",)]


def test_bankroll_may_be_left_out_because_alert_strategies_have_none() -> None:
    # Given a body without a bankroll / When validated / Then it is accepted here: whether the strategy
    # needs one depends on its graph (a trading graph does, an alert graph must not), which deploy checks
    assert DeployConfig.model_validate({"frequency": "1m"}).paper_bankroll_usd is None


def test_defaults_are_paper_utc_no_auto_start_three_failures() -> None:
    # Given the smallest valid body / When validated
    config = deploy()
    # Then the documented defaults apply
    assert config.trading_mode == "paper"
    assert config.timezone == "UTC"
    assert config.auto_start is False
    assert config.max_consecutive_failures == 3


def test_unknown_trading_mode_is_rejected() -> None:
    # Given a mode other than paper or live / When validated / Then rejected on that field
    assert [e["loc"] for e in errors_of(trading_mode="margin")] == [("trading_mode",)]


@pytest.mark.parametrize(
    ("preset", "cron"),
    [
        ("1m", "* * * * *"),
        ("5m", "*/5 * * * *"),
        ("15m", "*/15 * * * *"),
        ("30m", "*/30 * * * *"),
        ("1h", "0 * * * *"),
    ],
)
def test_frequency_presets_map_to_their_cron(preset: str, cron: str) -> None:
    # Given a preset / When validated / Then its cron is DESIGN 4's
    assert deploy(frequency=preset).cron == cron


@pytest.mark.parametrize("preset", ["2m", "1d", "", "hourly"])
def test_unknown_frequency_is_rejected(preset: str) -> None:
    assert [e["loc"] for e in errors_of(frequency=preset)] == [("frequency",)]


def test_schedule_cron_is_accepted_normalised_and_used() -> None:
    # Given a custom cron instead of a preset
    config = deploy(frequency=None, schedule_cron="0  9 * * MON-FRI", timezone="America/New_York")
    # Then it is normalised and becomes the schedule
    assert config.schedule_cron == "0 9 * * mon-fri"
    assert config.cron == "0 9 * * mon-fri"
    assert config.timezone == "America/New_York"


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("*/5 * * * * *", "expected 5 fields"),
        ("@hourly", "'@hourly' are not supported"),
        ("0 0 L * *", "'L' (last) is not supported"),
        ("0 0 * * 1#2", "'#' (nth weekday) is not supported"),
        ("0 0 ? * *", "'?' is not supported"),
        ("R * * * *", "random values"),
        ("*/0 * * * *", "field 1 (minute): step must be >= 1 in '*/0'"),
        ("0 25 * * *", "field 2 (hour): 25 is out of range"),
        ("0 0 30 2 *", "never fires within the next year"),
    ],
)
def test_schedule_cron_outside_the_grammar_is_rejected_with_the_reason(cron: str, problem: str) -> None:
    # Given a cron DESIGN 4 does not accept
    # When validated
    errors = errors_of(frequency=None, schedule_cron=cron)
    # Then the message names the problem
    assert len(errors) == 1
    assert problem in errors[0]["msg"]


def test_unknown_timezone_is_rejected_on_its_field() -> None:
    errors = errors_of(timezone="Moon/Tranquility")
    assert [e["loc"] for e in errors] == [("timezone",)]
    assert "unknown timezone" in errors[0]["msg"]


def test_both_frequency_and_schedule_cron_are_rejected() -> None:
    # Given both a preset and a cron / When validated / Then exactly one is asked for
    errors = errors_of(frequency="1m", schedule_cron="* * * * *")
    assert "exactly one of `frequency` or `schedule_cron`" in errors[0]["msg"]


def test_neither_frequency_nor_schedule_cron_is_rejected() -> None:
    errors = errors_of(frequency=None)
    assert "exactly one of `frequency` or `schedule_cron`" in errors[0]["msg"]


@pytest.mark.parametrize("value", [1, 50, 100])
def test_max_consecutive_failures_in_range_is_accepted(value: int) -> None:
    assert deploy(max_consecutive_failures=value).max_consecutive_failures == value


@pytest.mark.parametrize("value", [0, 101, -1, "many"])
def test_max_consecutive_failures_out_of_range_is_rejected(value: Any) -> None:
    assert [e["loc"] for e in errors_of(max_consecutive_failures=value)] == [("max_consecutive_failures",)]


def test_unknown_keys_are_rejected() -> None:
    # Given a body with a key DESIGN 4 does not define / When validated / Then it is named
    assert [e["loc"] for e in errors_of(bankroll=500)] == [("bankroll",)]
