"""Request and response bodies of the API (pydantic; they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

MIN_YEAR = 2000


class Fix(BaseModel):
    """One GPS fix. ``ts`` must carry its UTC offset (naive local times are ambiguous)."""

    model_config = ConfigDict(extra="ignore")

    vehicle_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    ts: AwareDatetime
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    occupied: bool

    @field_validator("ts")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        if value.year < MIN_YEAR:
            raise ValueError(f"timestamp before {MIN_YEAR}")
        return value

    @field_validator("lon")
    @classmethod
    def _not_null_island(cls, value: float, info: Any) -> float:
        if value == 0 and info.data.get("lat") == 0:
            raise ValueError("0,0 is a missing position, not a place")
        return value


class RideEvent(BaseModel):
    """A pickup or drop-off reported by the meter; ``event_key`` makes a retry harmless."""

    model_config = ConfigDict(extra="ignore")

    event_key: str = Field(min_length=1, max_length=128)
    vehicle_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: Literal["pickup", "dropoff"]
    ts: AwareDatetime
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)


class TelemetryBatch(BaseModel):
    """Items are validated one by one: the valid ones are stored even if others are not."""

    fixes: list[Any] = Field(description="Objects of the Fix schema.")


class RideBatch(BaseModel):
    events: list[Any] = Field(description="Objects of the RideEvent schema.")


class Rejected(BaseModel):
    index: int
    field: str
    error: str


class IngestResult(BaseModel):
    accepted: int = Field(description="New items, durable before this response.")
    duplicates: int = Field(description="Items already received (no effect).")
    rejected: list[Rejected]


@cache
def _list_of[T: BaseModel](model: type[T]) -> TypeAdapter[list[T]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def validate_items[T: BaseModel](
    items: list[Any], model: type[T]
) -> tuple[list[tuple[int, T]], list[Rejected]]:
    """Valid items with their index, and a rejection per bad field of the others (the whole
    batch is validated at once; only a batch with errors is split)."""
    whole = _list_of(model)
    try:
        return list(enumerate(whole.validate_python(items))), []
    except ValidationError as exc:
        bad: list[Rejected] = []
        for err in exc.errors(include_url=False, include_input=False):
            index, *field = err["loc"]
            name = ".".join(str(p) for p in field) or "(item)"
            bad.append(Rejected(index=int(index), field=name, error=str(err["msg"])))
    rejected = {r.index for r in bad}
    keep = [i for i in range(len(items)) if i not in rejected]
    good = whole.validate_python([items[i] for i in keep])
    return list(zip(keep, good, strict=True)), bad
