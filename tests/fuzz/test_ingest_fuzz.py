"""Bad input through the real ingest handler (moto + emulator): the corpus under corpus/sqs and corpus/sns,
then hypothesis. Each bad record sits between two good ones in one batch: the good ones must succeed, and the
bad one must end as a page or as a logged failure (which SQS retries, then dead-letters)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertbridge.logic.parsers import parse_sqs_body
from tests.fuzz.rig import Rig, corpus_files, corpus_text, running_rig, sns_envelope

ALARM: dict[str, Any] = json.loads((Path(__file__).parent / "corpus" / "valid-alarm.json").read_text())
EVENTBRIDGE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "corpus" / "valid-eventbridge.json").read_text()
)
HANDLER_EXAMPLES = 40


def corpus_cases(kind: str) -> list[Any]:
    return [pytest.param(path, id=path.name) for path in corpus_files(kind)]


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with running_rig() as running:
        yield running


def assert_settled(rig: Rig, body: str) -> None:
    result = rig.sandwich(body)
    assert result.failed_good == [], "a bad record failed the good records of its batch"
    assert result.settled, f"neither a page nor a logged failure: {result}"


@pytest.mark.parametrize("path", corpus_cases("sqs"))
def test_sqs_body_corpus(rig: Rig, path: Path) -> None:
    assert_settled(rig, corpus_text(path))


@pytest.mark.parametrize("path", corpus_cases("sns"))
def test_sns_message_corpus(rig: Rig, path: Path) -> None:
    assert_settled(rig, sns_envelope(corpus_text(path), subject="fuzz"))


def test_corpus_through_sqs_ends_paged_or_dead_lettered(rig: Rig) -> None:
    """The same corpus through the real queue and its redrive policy: nothing vanishes."""

    sent = 0
    for path in corpus_files("sqs"):
        body = corpus_text(path)
        if sqs_accepts(body):
            rig.bridge.send_to_queue(body)
            sent += 1
    rig.outcomes.clear()
    rig.bridge.stages().drain(max_batches=200)
    dead = rig.bridge.dead_letter_count()
    assert sent > 30
    assert len(rig.outcomes) + dead == sent
    assert all(rig.emulator.open_alert(o.dedup_key) for o in rig.outcomes if o.alarm_state == "ALARM")


def sqs_accepts(body: str) -> bool:
    """SQS takes 1+ characters of #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF."""
    return bool(body) and all(_sqs_character(c) for c in body)


def _sqs_character(c: str) -> bool:
    return c in "\t\n\r" or "\x20" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"


# hypothesis: arbitrary text, arbitrary JSON, and real shapes with fields broken --------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
wrong_values = json_values | st.text(alphabet=st.characters(codec="utf-8"), max_size=3000) | st.just("\ud800")


@st.composite
def broken_documents(draw: st.DrawFn) -> str:
    """A real alarm or EventBridge event with some fields replaced by junk or removed, maybe in an envelope."""
    document = copy.deepcopy(draw(st.sampled_from([ALARM, EVENTBRIDGE])))
    for _ in range(draw(st.integers(1, 4))):
        target = document
        path = draw(st.sampled_from(_paths(document)))
        for part in path[:-1]:
            target = target[part]
        if draw(st.booleans()):
            target[path[-1]] = draw(wrong_values)
        elif isinstance(target, dict):
            target.pop(path[-1], None)
    text = json.dumps(document, ensure_ascii=draw(st.booleans()), allow_nan=True)
    if not _encodable(
        text
    ):  # SQS cannot carry a lone surrogate: it arrives escaped (the known raw case: corpus)
        text = json.dumps(document, allow_nan=True)
    return sns_envelope(text) if draw(st.booleans()) else text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = document.items() if isinstance(document, dict) else enumerate(document)
    paths = []
    for key, value in children:
        paths.append((*prefix, key))
        if isinstance(value, dict | list) and value:
            paths.extend(_paths(value, (*prefix, key)))
    return paths


bad_bodies = st.one_of(
    st.text(max_size=500),
    json_values.map(lambda value: json.dumps(value, allow_nan=True)),
    json_values.map(lambda value: sns_envelope(json.dumps(value))),
    broken_documents(),
)


@settings(
    max_examples=HANDLER_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(body=bad_bodies)
def test_fuzzed_bodies_through_the_handler(rig: Rig, body: str) -> None:
    assert_settled(rig, body)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(body=bad_bodies)
def test_the_parser_never_raises_and_bounds_what_it_keeps(body: str) -> None:
    alert = parse_sqs_body(body, received_at=datetime(2026, 3, 1, tzinfo=UTC), max_raw_chars=4000)
    assert 0 < len(alert.dedup_key) <= 255
    assert alert.raw_message is None or len(alert.raw_message) <= 4000 + 64
