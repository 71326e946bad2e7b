"""Maintenance windows: the model and which window covers an alarm (logic/maintenance.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from alertbridge.logic.dedup import account_from_arn
from alertbridge.logic.maintenance import active_window_for, window_for, window_matches
from alertbridge.models.alert import AlarmState, Alert, AlertSource
from alertbridge.models.maintenance import MaintenanceWindow

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:db-cpu-high"


def window(**fields: Any) -> MaintenanceWindow:
    values: dict[str, Any] = {
        "id": "mw-1",
        "start": T0,
        "end": T0 + timedelta(hours=2),
        "reason": "db upgrade",
    }
    return MaintenanceWindow.model_validate({**values, **fields})


def covers(
    mw: MaintenanceWindow, route: str = "payments", name: str = "db-cpu-high", account: str = "123456789012"
) -> bool:
    return window_matches(mw, route=route, alarm_name=name, account=account)


def test_window_is_active_from_start_inclusive_to_end_exclusive() -> None:
    mw = window()
    assert not mw.is_active(T0 - timedelta(seconds=1))
    assert mw.is_active(T0)
    assert mw.is_active(T0 + timedelta(hours=2) - timedelta(microseconds=1))
    assert not mw.is_active(T0 + timedelta(hours=2))


def test_window_rejects_end_before_start_and_naive_times() -> None:
    with pytest.raises(ValidationError, match="end must not be before start"):
        window(end=T0 - timedelta(minutes=1))
    with pytest.raises(ValidationError, match="time zone"):
        window(start=datetime(2024, 5, 1, 12, 0), end=datetime(2024, 5, 1, 13, 0))


def test_cancelled_window_with_equal_start_and_end_is_never_active() -> None:
    mw = window(end=T0)
    assert not mw.is_active(T0)


def test_window_without_matchers_covers_everything() -> None:
    assert covers(window(), route="anything", name="x", account="999999999999")


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        ({"route": "payments"}, True),
        ({"route": "platform"}, False),
        ({"alarm_name_prefix": "db-"}, True),
        ({"alarm_name_prefix": "api-"}, False),
        ({"account": "123456789012"}, True),
        ({"account": "210987654321"}, False),
        ({"route": "payments", "alarm_name_prefix": "db-", "account": "123456789012"}, True),
        ({"route": "payments", "alarm_name_prefix": "api-"}, False),
    ],
)
def test_every_given_matcher_must_match(matchers: dict[str, str], expected: bool) -> None:
    assert covers(window(**matchers)) is expected


def test_account_matcher_does_not_match_an_alert_without_account() -> None:
    assert not window_matches(window(account="123456789012"), route="r", alarm_name="n", account=None)


def test_active_window_for_ignores_inactive_and_non_matching_windows() -> None:
    windows = [
        window(id="past", start=T0 - timedelta(hours=3), end=T0 - timedelta(hours=1)),
        window(id="other-route", route="platform"),
        window(id="match", route="payments"),
    ]
    found = active_window_for(windows, route="payments", alarm_name="db-cpu-high", account=None, now=T0)
    assert found is not None
    assert found.id == "match"
    assert active_window_for(windows[:2], route="payments", alarm_name="db", account=None, now=T0) is None


def test_overlapping_windows_pick_the_one_ending_last() -> None:
    windows = [
        window(id="short"),
        window(id="long", end=T0 + timedelta(hours=6)),
        window(id="mid", end=T0 + timedelta(hours=3)),
    ]
    found = active_window_for(windows, route="r", alarm_name="n", account=None, now=T0 + timedelta(minutes=1))
    assert found is not None
    assert found.id == "long"


def test_window_for_an_alert_takes_its_account_from_the_arn() -> None:
    alert = Alert(
        source=AlertSource.CLOUDWATCH_SNS,
        dedup_key=ARN,
        alarm_name="db-cpu-high",
        alarm_arn=ARN,
        state=AlarmState.ALARM,
        state_changed_at=T0,
    )
    mw = window(account="123456789012", alarm_name_prefix="db-")
    assert window_for(alert, "payments", [mw], T0 + timedelta(minutes=1)) == mw
    assert window_for(alert, "payments", [mw], T0 + timedelta(hours=3)) is None


@pytest.mark.parametrize(
    ("arn", "account"),
    [(ARN, "123456789012"), (None, None), ("not-an-arn", None), ("arn:aws:sns:us-east-1::topic", None)],
)
def test_account_from_arn(arn: str | None, account: str | None) -> None:
    assert account_from_arn(arn) == account
