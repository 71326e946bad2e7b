"""The fast console-URL encoder, body fitter and truncation give exactly what the straightforward versions gave.

The reference implementations below are the previous code, kept here as the specification: a Python loop
per UTF-16 code unit for jsurl, a recursive clean of every string before two size measurements, and a loop
per character counting UTF-16 units for truncate.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alertbridge.logic import events
from alertbridge.logic.events import BODY_BUDGET_BYTES, ELLIPSIS, _fit, _jsurl, truncate, utf16_units

# Characters that make the escaping and the surrogate detection interesting: jsurl's specials, JSON's
# escapes (a backslash before a `ud800`-looking text), Latin-1, BMP, astral characters and lone surrogates.
TRICKY = [
    *"aZ09_-.$~'()!*/ \\\"ud8cf\n\t",
    *("\u00e9", "\u00ff", "\u0100", "\u2013", "\u65e5", "\ud55c", "\U0001f6a8", "\U0001d518"),
    *("\ud800", "\udbff", "\udc00", "\udfff"),
]
texts = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(), max_size=40)


def reference_jsurl(text: str) -> str:
    data = text.encode("utf-16-le", "surrogatepass")
    out = []
    for unit in (int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)):
        char = chr(unit) if unit < 0xD800 or unit > 0xDFFF else ""
        if char and (char.isascii() and (char.isalnum() or char in "_-.")):
            out.append(char)
        elif unit == ord("$"):
            out.append("!")
        else:
            out.append(f"*{unit:02x}" if unit < 0x100 else f"**{unit:04x}")
    return "".join(out)


def reference_fit(body: dict[str, Any]) -> events.EventV2:
    body = events._clean(body)
    details = body.get("payload", {}).get("custom_details")
    if isinstance(details, dict) and events._size(body) > BODY_BUDGET_BYTES:
        body["payload"]["custom_details"] = events._trimmed(body, details)
    if events._size(body) > BODY_BUDGET_BYTES:
        body["links"] = body.get("links", [])[:3]
        body.pop("images", None)
    return events.EventV2.model_validate(body)


def reference_truncate(text: str, limit: int) -> str:
    if utf16_units(text) <= limit:
        return text
    budget = limit - utf16_units(ELLIPSIS)
    kept = 0
    for index, char in enumerate(text):
        kept += 2 if ord(char) > 0xFFFF else 1
        if kept > budget:
            return text[:index] + ELLIPSIS
    return text


def trigger(summary: str, details: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "routing_key": "default",
        "event_action": "trigger",
        "dedup_key": "k",
        "payload": {
            "summary": summary or "s",
            "source": "src",
            "severity": "error",
            "custom_details": details,
        },
        **extra,
    }


def same(body: dict[str, Any]) -> None:
    fast, reference = _fit(json.loads(json.dumps(body))), reference_fit(json.loads(json.dumps(body)))
    assert json.dumps(fast.to_body()) == json.dumps(reference.to_body())


@settings(max_examples=400, deadline=None)
@given(texts)
def test_jsurl_matches_the_per_code_unit_encoder(text: str) -> None:
    assert _jsurl(text) == reference_jsurl(text)


@settings(max_examples=400, deadline=None)
@given(texts, st.integers(min_value=2, max_value=48))
def test_truncate_matches_the_per_character_count(text: str, limit: int) -> None:
    assert truncate(text, limit) == reference_truncate(text, limit)


def test_jsurl_examples() -> None:
    assert _jsurl("AWS/ECS") == "AWS*2fECS"
    assert _jsurl("a$b") == "a!b"
    assert _jsurl("é日🚨") == "*e9**65e5**d83d**dea8"
    assert _jsurl("\udc00x") == "**dc00x"


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(texts, texts | st.lists(texts, max_size=3), max_size=5), texts)
def test_fit_matches_clean_then_measure(details: dict[str, Any], summary: str) -> None:
    same(trigger(summary, details))


def test_fit_cleans_a_lone_surrogate_after_an_escaped_backslash() -> None:
    # `\\` then `ud800` then a lone low surrogate: the backslash's second half must not pair with it.
    for details in ({"a": "\\ud800\udc00"}, {"b\udc00": ["x\ud83d"]}):
        same(trigger("s", details))
        cleaned = json.dumps(_fit(trigger("s", details)).to_body()["payload"]["custom_details"])
        assert "\\ufffd" in cleaned  # the replacement character, as the intake function cleans


def test_fit_keeps_surrogate_pairs_and_trims_big_bodies_the_same_way() -> None:
    same(trigger("🚨 é", {"big": "é🚨" * 200_000, "raw_message": "r" * 10_000, "small": "x"}))
    same(trigger("s", {"big": "\ud800" * 100_000, "other": "y" * 300_000}))
    links = [{"href": f"https://example.com/{i}", "text": "t"} for i in range(30)]
    same(trigger("s", {"raw_message": "r" * 600_000}, links=links, images=[{"src": "https://example.com/i"}]))


def test_fit_falls_back_to_clean_for_keys_json_refuses() -> None:
    body = trigger("s", {"d": {("tuple", "key"): 1}})
    assert _fit(body).to_body()["payload"]["custom_details"] == {"d": {"('tuple', 'key')": 1}}
