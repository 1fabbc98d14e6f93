"""Model base and shared field types: Decimal money that serialises as a JSON number, UTC times with `Z`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from engine.clock import iso, to_utc


def _decimal_in(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _decimal_out(value: Decimal) -> int | float:
    # Responses carry money, prices and shares as JSON numbers (DESIGN 2).
    return int(value) if value == value.to_integral_value() else float(value)


def _utc_in(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_utc(value)
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(_decimal_in),
    PlainSerializer(_decimal_out, return_type=float, when_used="json"),
]
UtcDatetime = Annotated[
    datetime,
    BeforeValidator(_utc_in),
    PlainSerializer(iso, return_type=str, when_used="json"),
]


class Model(BaseModel):
    """Every model's root. `defer_build`: a model's validator and serializer are built on first use, not at
    import, so a cold start pays only for the models its request touches (DESIGN's cold-import figure)."""

    model_config = ConfigDict(defer_build=True)


class DomainModel(Model):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=False)


class FrozenModel(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)
