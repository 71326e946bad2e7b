"""Both stages in-process on moto and the emulator: the intake handler fed one batch at a time, [good, bad,
good], then the delivery stage drained as Lambda's FIFO event source would.

Every bad input must end as a page (an emulator trigger) or as a record a handler reports as failed and
logs, so SQS retries it and then dead-letters it. The good records around it must succeed either way.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from alertbridge import wiring
from alertbridge.adapters.dynamo_state import reset_default_client
from alertbridge.models.config import BridgeConfig
from alertbridge.sandbox.bridge import FAKE_CREDENTIALS, LocalBridge
from alertbridge.sandbox.emulator import PagerDutyEmulator
from alertbridge.sandbox.event_source import FakeLambdaContext
from alertbridge.sandbox.scenario import Metric, alarm_arn, metric_alarm_message
from alertbridge.services.pipeline import Outcome
from alertbridge.wiring import delivery as delivery_wiring

CORPUS = Path(__file__).parent / "corpus"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:alarms"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:fuzz-ingest"
METRIC = Metric("AWS/Lambda", "Errors", {"FunctionName": "checkout"}, threshold=5)
FAILED_LOGS = (
    "record not forwarded; it returns to the queue",  # the intake handler
    "record failed; it returns to the delivery queue",  # the delivery handler
)
_names = itertools.count()


def corpus_files(kind: str) -> list[Path]:
    return sorted((CORPUS / kind).iterdir())


def corpus_text(path: Path) -> str:
    """The file as the Lambda runtime would hand it over: bytes that are not UTF-8 become lone surrogates."""
    return path.read_bytes().decode("utf-8", errors="surrogateescape")


def sns_envelope(message: str, subject: str | None = None) -> str:
    """An SQS body as SNS delivers it with raw delivery off."""
    envelope = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC_ARN,
        "Message": message,
        "Timestamp": "2026-03-01T08:00:01.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    if subject is not None:
        envelope["Subject"] = subject
    return json.dumps(envelope)


def sqs_record(body: str) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1772352000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1772352000001",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class BadOutcome:
    """What became of the bad record of one batch."""

    failed: bool
    logged_failure: bool
    outcome: Outcome | None
    paged: bool
    failed_good: list[str] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        """A page, a processed non-alarm (an OK, an ignored state), or a logged failure (-> DLQ)."""
        if self.failed:
            return self.logged_failure and self.outcome is None
        if self.outcome is None:
            return False
        return self.paged or self.outcome.alarm_state != "ALARM"


class Rig:
    def __init__(self, bridge: LocalBridge, emulator: PagerDutyEmulator) -> None:
        from alertbridge.handlers import intake
        from alertbridge.observability import metrics_counter

        self.bridge, self.emulator = bridge, emulator
        self.handler = intake.lambda_handler
        self.delivery = bridge.stages().delivery
        self.outcomes: list[Outcome] = []
        self.logs = _Collect()
        delivery_wiring.delivery_pipeline(metrics_counter).observers.append(self.outcomes.append)

    def good_body(self) -> tuple[str, str]:
        """A fresh alarm's ALARM notification (SNS envelope) and its dedup key."""
        name = f"fuzz-good-{next(_names):05d}"
        message = metric_alarm_message(name, "ALARM", "OK", _now(), METRIC, "Threshold Crossed")
        return sns_envelope(message), alarm_arn(name)

    def sandwich(self, bad_body: str) -> BadOutcome:
        """Handle [good, bad, good] as one Lambda invocation."""
        (first, first_key), (last, last_key) = self.good_body(), self.good_body()
        records = [sqs_record(first), sqs_record(bad_body), sqs_record(last)]
        self.outcomes.clear()
        self.logs.records.clear()
        response = self.handler({"Records": records}, FakeLambdaContext(timeout_seconds=30))
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        delivery_failures = self._deliver()
        bad_id = records[1]["messageId"]
        bad = [o for o in self.outcomes if o.dedup_key not in (first_key, last_key)]
        outcome = bad[0] if bad else None
        return BadOutcome(
            failed=bad_id in failed or (outcome is None and delivery_failures > 0),
            logged_failure=self._logged_failure(bad_id if bad_id in failed else None),
            outcome=outcome,
            paged=outcome is not None and self.emulator.open_alert(outcome.dedup_key) is not None,
            failed_good=[
                key
                for key, record in ((first_key, records[0]), (last_key, records[2]))
                if record["messageId"] in failed or self.emulator.open_alert(key) is None
            ],
        )

    def _deliver(self) -> int:
        """Drain the delivery stage; how many delivery records failed on the way."""
        failures = 0

        def count(result: Any) -> None:
            nonlocal failures
            failures += result.failed

        self.delivery.drain(max_batches=50, on_batch=count)
        return failures

    def _logged_failure(self, intake_message_id: str | None) -> bool:
        """A failure logged by the intake handler for that record, or by the delivery handler."""
        return any(
            record.levelno >= logging.WARNING
            and record.getMessage() in FAILED_LOGS
            and (intake_message_id is None or getattr(record, "message_id", None) == intake_message_id)
            for record in self.logs.records
        )


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(microsecond=0)


@contextmanager
def running_rig() -> Iterator[Rig]:
    """moto + emulator + bridge resources + a fresh 'container' (restores the environment afterwards)."""
    from alertbridge.observability import logger

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**FAKE_CREDENTIALS, "POWERTOOLS_METRICS_DISABLED": "true"}.items():
            patch.setenv(name, value)
        with mock_aws(), PagerDutyEmulator(rate_limit=100_000, window_seconds=1.0) as emulator:
            reset_default_client()
            config = BridgeConfig.model_validate(BridgeConfig.example())
            bridge = LocalBridge.create(config, emulator.url, max_receive_count=2, name="fuzz")
            env = bridge.environment(ALERTBRIDGE_MAX_ATTEMPTS="2", ALERTBRIDGE_READ_TIMEOUT="2")
            for name, value in env.items():
                patch.setenv(name, value)
            wiring.reset()
            rig = Rig(bridge, emulator)
            logging.getLogger(logger.name).addHandler(rig.logs)
            try:
                yield rig
            finally:
                logging.getLogger(logger.name).removeHandler(rig.logs)
                wiring.reset()
                reset_default_client()
