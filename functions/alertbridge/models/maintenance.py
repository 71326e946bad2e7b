"""A maintenance window kept in the state table: triggers that match it are recorded, not sent."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MaintenanceWindow(BaseModel):
    """From `start` (inclusive) to `end` (exclusive). Every matcher given must match; none given matches all.

    `end == start` is allowed: that is how a window cancelled before it began is stored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    start: datetime
    end: datetime
    reason: str = Field(default="", max_length=1024)
    route: str | None = None
    alarm_name_prefix: str | None = None
    account: str | None = None
    created_by: str | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone (use UTC)")
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self

    def is_active(self, now: datetime) -> bool:
        return self.start <= now < self.end
