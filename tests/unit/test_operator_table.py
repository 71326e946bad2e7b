"""The operator commands' tables: keys stay whole (they are pasted into ack/resolve/note), CJK lines up."""

from __future__ import annotations

from alertbridge.operator.table import display_width, render_table


def test_a_long_dedup_key_is_never_cut() -> None:
    key = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:" + "payments-api-" * 12 + "errors"
    out = render_table(["ALARM", "DEDUP KEY"], [["pay", key]], shorten={"ALARM"})
    assert key in out and "…" not in out


def test_only_named_columns_are_shortened() -> None:
    out = render_table(["ALARM", "DETAIL"], [["x" * 300, "y" * 300]], shorten={"ALARM"})
    row = out.splitlines()[2]
    assert "x" * 119 + "…" in row and "x" * 120 not in row and "y" * 300 in row


def test_columns_align_by_display_width() -> None:
    out = render_table(["ALARM", "ROUTE"], [["決済エラー", "payments"], ["pay-errors", "default"]])
    header, _, first, second = out.splitlines()
    assert display_width("決済エラー") == 10
    column = display_width(header[: header.index("ROUTE")])
    assert display_width(first[: first.index("payments")]) == column
    assert display_width(second[: second.index("default")]) == column
    assert display_width("e\u0301") == 1  # a combining accent takes no cell
