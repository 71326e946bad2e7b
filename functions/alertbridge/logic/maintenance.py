"""Which maintenance window, if any, covers an alarm now. Pure: windows and `now` are passed in."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from alertbridge.logic.dedup import account_from_arn
from alertbridge.models.alert import Alert
from alertbridge.models.maintenance import MaintenanceWindow


def window_matches(window: MaintenanceWindow, *, route: str, alarm_name: str, account: str | None) -> bool:
    """Every matcher the window sets must match; a window without matchers covers everything."""
    return (
        (window.route is None or window.route == route)
        and (window.alarm_name_prefix is None or alarm_name.startswith(window.alarm_name_prefix))
        and (window.account is None or window.account == account)
    )


def active_window_for(
    windows: Iterable[MaintenanceWindow],
    *,
    route: str,
    alarm_name: str,
    account: str | None,
    now: datetime,
) -> MaintenanceWindow | None:
    """The covering window that ends last (so the recorded id is the one that lifts the suppression)."""
    covering = [
        window
        for window in windows
        if window.is_active(now)
        and window_matches(window, route=route, alarm_name=alarm_name, account=account)
    ]
    return max(covering, key=lambda window: (window.end, window.id), default=None)


def window_for(
    alert: Alert, route: str, windows: Iterable[MaintenanceWindow], now: datetime
) -> MaintenanceWindow | None:
    """The active window covering this alert on this route, if any."""
    account = alert.account_id or account_from_arn(alert.alarm_arn)
    return active_window_for(windows, route=route, alarm_name=alert.alarm_name, account=account, now=now)
