"""Messages on the FIFO delivery queue: the one ordered lane through which every PagerDuty send for a
dedup key goes.

Two kinds travel there, each in the message group of its dedup key (so SQS hands out one batch per key at
a time, in order, while different keys run in parallel):

- `AlertNotice`: a notification the intake function parsed (CloudWatch through SNS or EventBridge, an
  application alert, ...), normalized into an `Alert`.
- `Observation`: what the reconciler saw, with the time it saw it ("CloudWatch says OK, state updated at
  T", "maintenance window W ended", "PagerDuty shows no incident for this episode"). The delivery function
  decides it on fresh state, so an observation that newer state has overtaken changes nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from alertbridge.models.alert import AlarmState, Alert
from alertbridge.models.pagerduty import Incident

# SQS FIFO: MessageGroupId and MessageDeduplicationId are at most 128 characters.
_ID_HEX_CHARS = 64


class ObservationKind(StrEnum):
    """What the reconciler observed about one key, named after what it asks the delivery lane to do:
    stable values for metrics and logs."""

    RESOLVE_DELETED = "alarm-deleted"
    RESOLVE_OK = "alarm-ok"
    # A multi-time-series alarm went OK at alarm level: each contributor incident still open closes
    RESOLVE_CONTRIBUTOR_ALARM_OK = "alarm-ok-contributor"
    RESOLVE_CONTRIBUTOR_OK = "contributor-ok"  # the contributor is no longer in ALARM in CloudWatch
    AUTO_RESOLVE = "auto-resolve-timeout"
    TRIGGER_AFTER_MAINTENANCE = "maintenance-ended"
    CLEAR_SUPPRESSED = "suppressed-alarm-recovered"
    RESEND_TRIGGER = "pending-trigger-resent"
    RETRIGGER_UNOPENED = "trigger-not-opened"
    CONFIRM_OPENED = "open-confirmed"
    RESEND_RESOLVE = "resolve-resent"
    CONFIRM_RESOLVED = "resolve-confirmed"


class AlertNotice(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["alert"] = "alert"
    alert: Alert
    received_at: datetime  # when the intake function read it (the alert carries its own state time)

    @property
    def dedup_key(self) -> str:
        return self.alert.dedup_key


class Observation(BaseModel):
    """One corrective intent from the reconciler.

    `state_changed_at` and `opened_at` are those of the stored item the plan was made from: the delivery
    function applies the observation only while the item still describes the same alarm transition and
    the same incident. `as_of` is the time the observed fact refers to (CloudWatch's state update time for
    an alarm seen OK), when it is known.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["observation"] = "observation"
    what: ObservationKind
    dedup_key: str
    observed_at: datetime
    why: str
    state_changed_at: datetime
    opened_at: datetime | None = None
    as_of: datetime | None = None
    alarm_state: AlarmState | None = None  # CloudWatch's state at `as_of`, when it was looked up
    incident: Incident | None = None


DeliveryMessage = Annotated[AlertNotice | Observation, Field(discriminator="kind")]
_MESSAGE = TypeAdapter(DeliveryMessage)


def parse_delivery_message(body: str) -> AlertNotice | Observation:
    """A delivery queue body; raises pydantic.ValidationError for anything else."""
    return _MESSAGE.validate_json(body)


def message_group_id(dedup_key: str) -> str:
    """The FIFO message group of a dedup key: a hash, because a key may be 255 characters of Unicode while
    a group id is at most 128 characters of ASCII."""
    return _hex(dedup_key)


def deduplication_id(message: AlertNotice | Observation) -> str:
    """Identical messages sent within SQS's five-minute deduplication interval are delivered once: the same
    notification delivered twice by SNS (and forwarded twice by the intake function) costs nothing more.
    A notice's arrival time is left out, so that duplicates are identical."""
    if isinstance(message, AlertNotice):
        return _hex(message.alert.model_dump_json())
    return _hex(message.model_dump_json())


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_ID_HEX_CHARS]
