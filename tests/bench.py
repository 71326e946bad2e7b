"""Benchmarks: `python -m tests.bench` (or `make bench`). Not timed tests: every figure is a ratio against a
baseline doing equivalent work, measured side by side in the same run (or a size, or a count), printed as a
table and, last, as one JSON line. The machine is shared, so times are CPU times (time.process_time in this
process, getrusage in the children) wherever the network is not the point, baseline and bridge rounds are
interleaved, and each figure is the median of at least 7 rounds (ALERTBRIDGE_BENCH_ROUNDS).

- render_ratio: CPU per record of `alertbridge.render_event` (parse, route, build the Events API body, as
  `alertbridge render` prints it; example configuration) over the corpus, divided by the CPU per record of a
  minimal formatter on the same records in the same process: the SNS message taken out of its SQS/SNS
  envelope, `json.loads`, a dict of summary, severity, source and dedup key, `json.dumps`. The corpus:
  tests/events/*.json plus tests/bench_events/*.json (real-shaped SQS batches and SNS records of CloudWatch
  alarms the project's parsers were not written against). render_us_per_record is the bridge's side of it.
  Target <= 3. render_boundary_ratio (no target) is the part of it no logic can remove: the same decoding,
  pydantic validation of every parsed alert and every body, the body's dump and its 512 KB size check.
- init_ready_ratio_intake / init_ready_ratio_delivery: a fresh interpreter per round (subprocess) with the
  Lambda environment (LAMBDA_ENV), that imports the handler module and makes it ready to serve: the intake
  function's `wiring.intake.intake_parts()` with its SQS client constructed; the delivery function's
  `wiring.delivery.delivery_pipeline(metrics_counter)` with its DynamoDB client, httpx client and secrets reader
  constructed (AWS endpoints on 127.0.0.1, PagerDuty's on https so the CA bundle is loaded as in
  production; nothing called). The child's own CPU (getrusage: user + system)
  minus a bare interpreter's, over the same for an eager baseline handler: Powertools Logger, Metrics and
  BatchProcessor, a boto3 DynamoDB client and an httpx.Client built at import. Target <= 1.
- first_batch_peak_rss_ratio_intake / _delivery: peak RSS (VmHWM; ru_maxrss would carry the parent's peak
  across exec) of the same children after they processed one
  batch of 10 records through their lambda_handler (against a moto server and the PagerDuty emulator run by
  this process, so the children load no moto), over the baseline child's after its handler processed the
  same records (json.loads, DynamoDB get_item and put_item, one httpx POST per record).
- client_cpu_ratio: CPU per trigger of `EventsClient.trigger` over a bare `httpx.Client.post` of the same
  body (built as a dict, status checked, JSON answer read), both on one httpx.MockTransport handler.
  Target <= 1.1.
- storm_ratio: time to deliver STORM_ALARMS triggers through the emulator's per-key limit (STORM_LIMIT per
  STORM_WINDOW s) over the minimum that limit allows ((ceil(N / limit) - 1) * window), driven through the
  bridge's PagerDutyEventsAdapter with its retry and deadline rules and a per-record budget; a record out
  of budget is requeued at the end, as SQS would redeliver it. Median of STORM_ROUNDS storms (wall time:
  here the waiting is the point). storm_lost: alarms without an open incident at the end (target 0).
- storm_pipeline_ratio (no target): STORM_PIPELINE_ALARMS triggers through both stages (moto SNS -> SQS ->
  intake handler -> FIFO queue -> delivery handler -> emulator, `LocalBridge.stages()`) in one process:
  bound by moto's speed on this machine, not by the limit. storm_pipeline_lost must be 0.
- bundle_bytes: the zipped Lambda code asset built by infra/bundling.py's LocalPipBundling; null with the
  reason if it cannot build here.
- dynamodb_calls_per_trigger / _per_duplicate, pagerduty_calls_per_resolve (no target; measured, not
  judged): one real delivery pipeline (wiring.delivery.build_delivery_pipeline on in-process moto and the emulator)
  delivering a new alarm's trigger, the same notification again, then its OK; DynamoDB API calls counted on
  the boto3 client (botocore's before-call event), PagerDuty HTTP requests on the emulator, and the port
  calls (tests/fakes.py style counting wrappers around state, maintenance, links, keys and events) printed
  beside them.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import logging
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "tests" / "events"
BENCH_EVENTS = REPO / "tests" / "bench_events"
EXAMPLE_CONFIG = REPO / "functions" / "alertbridge" / "models" / "config.example.json"
ROUNDS = max(7, int(os.environ.get("ALERTBRIDGE_BENCH_ROUNDS", "7")))
CLIENT_EVENTS = int(os.environ.get("ALERTBRIDGE_BENCH_CLIENT_EVENTS", "500"))
STORM_ALARMS = int(os.environ.get("ALERTBRIDGE_BENCH_STORM_ALARMS", "1000"))
STORM_PIPELINE_ALARMS = int(os.environ.get("ALERTBRIDGE_BENCH_STORM_PIPELINE_ALARMS", "300"))
STORM_LIMIT, STORM_WINDOW = 100, 1.0
STORM_ROUNDS = 3
BATCH_RECORDS = 10
TARGETS: dict[str, tuple[str, float]] = {
    "render_ratio": ("<=", 3.0),
    "init_ready_ratio_intake": ("<=", 1.0),
    "init_ready_ratio_delivery": ("<=", 1.0),
    "first_batch_peak_rss_ratio_intake": ("<=", 1.3),
    "first_batch_peak_rss_ratio_delivery": ("<=", 1.3),
    "client_cpu_ratio": ("<=", 1.1),
    "dynamodb_calls_per_duplicate": ("<=", 1),  # the item's GetItem only: no maintenance Query
    "pagerduty_calls_per_resolve": ("<=", 1),  # the note and the lookup are off the hot path
    "storm_ratio": ("<=", 1.5),  # the issue sets none; 1.5 is ours
    "storm_lost": ("<=", 0),
    "storm_pipeline_lost": ("<=", 0),
    "bundle_bytes": ("<=", 50 * 1024 * 1024),  # Lambda's limit for a zipped upload
}
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "alertbridge-delivery",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never called in the ready step
    "POWERTOOLS_SERVICE_NAME": "alertbridge",
    "POWERTOOLS_METRICS_NAMESPACE": "AlertBridge",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "ALERTBRIDGE_TABLE_NAME": "alertbridge-state",
    "ALERTBRIDGE_ROUTING_KEYS_SECRET": "alertbridge/routing-keys",
    "ALERTBRIDGE_WEBHOOK_SECRET": "alertbridge/webhook",
    # PagerDuty's real https endpoints, never called in the ready step: the bridge's httpx client then loads
    # the CA bundle as it does in production (for plain http on loopback it skips it), like the baseline's.
    "ALERTBRIDGE_EVENTS_URL": "https://events.pagerduty.com",
    "ALERTBRIDGE_REST_URL": "https://api.pagerduty.com",
    "ALERTBRIDGE_DELIVERY_QUEUE_URL": "http://127.0.0.1:9/123456789012/alertbridge-delivery.fifo",
    "ALERTBRIDGE_CONFIG": "{}",
}
STORM_TARGET_NOTE = "moto + both handlers + event sources, one process: bound by moto's speed, not the limit"
RECORD_BUDGET = 2.0  # seconds per record in the client-level storm (the handler's record budget)


def _median_rounds(loops: dict[str, Callable[[], Any]], rounds: int = ROUNDS) -> dict[str, float]:
    """CPU seconds (process_time) of each loop: the median of `rounds` interleaved rounds, after a warm-up."""
    for loop in loops.values():
        loop()
    times: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(rounds):
        for name, loop in loops.items():
            started = time.process_time()
            loop()
            times[name].append(time.process_time() - started)
    return {name: statistics.median(values) for name, values in times.items()}


# render_ratio ---------------------------------------------------------------------------------------------------


def corpus() -> list[dict[str, Any]]:
    paths = sorted(EVENTS.glob("*.json")) + sorted(BENCH_EVENTS.glob("*.json"))
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


def _message_of(record: dict[str, Any]) -> str:
    """The text a formatter would read: the SNS Message (SNS record, or SNS envelope in an SQS body)."""
    if isinstance(record.get("Sns"), dict):
        return str(record["Sns"].get("Message", ""))
    body = record.get("body")
    if not isinstance(body, str):
        return json.dumps(record)
    try:
        envelope = json.loads(body)
    except ValueError:
        return body
    message = envelope.get("Message") if isinstance(envelope, dict) else None
    return message if isinstance(message, str) else body


def _records_of(event: dict[str, Any]) -> list[Any]:
    """The records of a Lambda event (SQS, SNS), or the event itself (an EventBridge or bare document)."""
    records = event.get("Records")
    return records if isinstance(records, list) else [event]


def minimal_format(event: dict[str, Any]) -> list[str]:
    """What a user would otherwise run: one small Lambda formatter, no validation, no routing."""
    out = []
    for record in _records_of(event):
        text = _message_of(record)
        try:
            message = json.loads(text)
        except ValueError:
            message = {}
        if not isinstance(message, dict):
            message = {}
        name = message.get("AlarmName") or message.get("alarmName") or text[:100]
        state = message.get("NewStateValue", "ALARM")
        body = {
            "summary": f"{state}: {name}"[:1024],
            "severity": "critical" if state == "ALARM" else "info",
            "source": message.get("AWSAccountId") or "unknown",
            "dedup_key": message.get("AlarmArn") or name,
        }
        out.append(json.dumps(body))
    return out


def render_ratio() -> dict[str, Any]:
    from alertbridge import render_event
    from alertbridge.models.config import BridgeConfig

    config = BridgeConfig.from_file(EXAMPLE_CONFIG)
    events = corpus()
    received = datetime(2026, 3, 1, tzinfo=UTC)
    records = sum(len(minimal_format(event)) for event in events)
    repeat = 20

    def bridge() -> None:
        for _ in range(repeat):
            for event in events:
                render_event(event, config, received_at=received)

    def minimal() -> None:
        for _ in range(repeat):
            for event in events:
                minimal_format(event)

    boundary = _boundary_work(events, config, received, repeat)

    cpu = _median_rounds({"bridge": bridge, "minimal": minimal, "boundary": boundary})
    per = {name: seconds / (repeat * records) * 1e6 for name, seconds in cpu.items()}
    return {
        "render_ratio": round(per["bridge"] / per["minimal"], 2),
        "render_us_per_record": round(per["bridge"], 1),
        "render_boundary_ratio": round(per["boundary"] / per["minimal"], 2),
        "_render_detail": f"{records} records in {len(events)} event files; render_event "
        f"{per['bridge']:.1f} us, minimal formatter {per['minimal']:.1f} us, boundary work alone "
        f"{per['boundary']:.1f} us per record (CPU, median of {ROUNDS} interleaved rounds)",
    }


def _boundary_work(
    events: list[dict[str, Any]], config: Any, received: datetime, repeat: int
) -> Callable[[], None]:
    """What render_event must do at its two boundaries whatever its logic: the minimal formatter's decoding,
    pydantic validation of each parsed alert (models.alert.Alert) and of each body (models.pagerduty.EventV2),
    the body's dump, and one json.dumps of it (the 512 KB check), on the bridge's own alerts and bodies. The
    rest of render_ratio is parsing, routing, links and details."""
    from alertbridge.logic.events import build_event, event_action_for
    from alertbridge.logic.parsers import parse_lambda_event
    from alertbridge.logic.policy import route_alert
    from alertbridge.models.alert import Alert
    from alertbridge.models.pagerduty import EventV2

    prepared = []
    for event in events:
        alerts = list(
            parse_lambda_event(event, received_at=received, max_raw_chars=config.max_raw_message_chars)
        )
        bodies = []
        for alert in alerts:
            action = event_action_for(alert, config)
            if action is not None:
                built = build_event(alert, route_alert(alert, config), action, config)
                bodies.append(built.model_dump(by_alias=True))
        prepared.append((event, [alert.model_dump() for alert in alerts], bodies))

    def boundary() -> None:
        for _ in range(repeat):
            for event, alerts, bodies in prepared:
                for record in _records_of(event):
                    try:  # noqa: SIM105 - the same try/except as minimal_format, not contextlib's extra calls
                        json.loads(_message_of(record))
                    except ValueError:
                        pass
                for alert in alerts:
                    Alert.model_validate(alert)
                for body in bodies:
                    json.dumps(EventV2.model_validate(body).to_body(), default=str)

    return boundary


# init_ready_ratio and first_batch_peak_rss_ratio --------------------------------------------------------------

_CHILD_PRELUDE = """
import json, os, resource, sys, time, uuid
def _usage():
    # CPU from getrusage; peak RSS from VmHWM (KiB): ru_maxrss survives exec, so a child started by a big
    # parent would report the parent's peak.
    u = resource.getrusage(resource.RUSAGE_SELF)
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return u.ru_utime + u.ru_stime, peak
class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    aws_request_id = str(uuid.uuid4())
    def get_remaining_time_in_millis(self):
        return 60000
"""
_CHILD_READY = {
    "bare": "",
    "intake": """
import alertbridge.handlers.intake as handler
from alertbridge.wiring import intake
intake.intake_parts().delivery.client
""",
    "delivery": """
import alertbridge.handlers.delivery as handler
from alertbridge.wiring import delivery
from alertbridge.observability import metrics_counter
pipeline = delivery.delivery_pipeline(metrics_counter)
pipeline.state._table.client
pipeline.events._http.client()
pipeline.keys._secret._secrets()
""",
    "baseline": """
import boto3, httpx
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
logger = Logger(service="baseline")
metrics = Metrics(namespace="Baseline", service="baseline")
processor = BatchProcessor(event_type=EventType.SQS)
dynamodb = boto3.client("dynamodb")
http = httpx.Client(timeout=httpx.Timeout(5.0, connect=3.05))
def record_handler(record):
    body = json.loads(record.body)
    key = {"pk": {"S": "baseline#" + record.message_id}}
    dynamodb.get_item(TableName=os.environ["ALERTBRIDGE_TABLE_NAME"], Key=key)
    dynamodb.put_item(TableName=os.environ["ALERTBRIDGE_TABLE_NAME"], Item={**key, "body": {"S": record.body[:1000]}})
    answer = http.post(os.environ["ALERTBRIDGE_EVENTS_URL"] + "/v2/enqueue", json={
        "routing_key": os.environ["BENCH_ROUTING_KEY"], "event_action": "trigger",
        "dedup_key": record.message_id, "payload": {"summary": str(body)[:100], "source": "baseline",
        "severity": "error"}})
    answer.raise_for_status()
@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
class handler:
    lambda_handler = staticmethod(lambda_handler)
""",
}
_CHILD_BATCH = """
cpu_ready, rss_ready = _usage()
result = {"cpu_ready": cpu_ready, "rss_ready": rss_ready}
if os.environ.get("BENCH_EVENT_FILE"):
    with open(os.environ["BENCH_EVENT_FILE"]) as f:
        event = json.load(f)
    answer = handler.lambda_handler(event, Context())
    result["failed"] = len(answer.get("batchItemFailures", []))
    result["rss_batch"] = _usage()[1]
print("BENCH_RESULT " + json.dumps(result), flush=True)
"""


def _child(kind: str, env: dict[str, str]) -> dict[str, Any]:
    code = _CHILD_PRELUDE + _CHILD_READY[kind] + _CHILD_BATCH
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, check=False, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed: {done.stderr[-2000:]}")
    line = [row for row in done.stdout.splitlines() if row.startswith("BENCH_RESULT ")][-1]
    return dict(json.loads(line.removeprefix("BENCH_RESULT ")))


_PYCACHE = tempfile.mkdtemp(prefix="alertbridge-bench-pycache-")
atexit.register(shutil.rmtree, _PYCACHE, ignore_errors=True)


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ALERTBRIDGE_", "POWERTOOLS_"))}
    # The Lambda bundle ships bytecode, so every child must find it: the warm-up round writes it into a cache
    # of this run's own (a PYTHONDONTWRITEBYTECODE in the caller's environment would otherwise make every
    # child compile the bridge's sources, while the baseline's site-packages have their .pyc).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = _PYCACHE
    env.update(LAMBDA_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "functions"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def init_and_rss() -> dict[str, Any]:
    with contextlib.redirect_stdout(io.StringIO()):
        ready = _ready_rounds()
        batch = _batch_rounds()
    cpu = {kind: statistics.median(r["cpu_ready"] for r in rows) for kind, rows in ready.items()}
    own = {kind: cpu[kind] - cpu["bare"] for kind in ("intake", "delivery", "baseline")}
    rss = {kind: statistics.median(r["rss_batch"] for r in rows) for kind, rows in batch.items()}
    failed = {kind: max(r["failed"] for r in rows) for kind, rows in batch.items()}
    return {
        "init_ready_ratio_intake": round(own["intake"] / own["baseline"], 3),
        "init_ready_ratio_delivery": round(own["delivery"] / own["baseline"], 3),
        "first_batch_peak_rss_ratio_intake": round(rss["intake"] / rss["baseline"], 3),
        "first_batch_peak_rss_ratio_delivery": round(rss["delivery"] / rss["baseline"], 3),
        "_init_detail": "CPU to import and get ready, bare interpreter subtracted: "
        + ", ".join(f"{kind} {own[kind] * 1000:.0f} ms" for kind in own)
        + f"; bare interpreter {cpu['bare'] * 1000:.0f} ms (medians of {ROUNDS} interleaved fresh interpreters)",
        "_rss_detail": "peak RSS after one batch of "
        f"{BATCH_RECORDS} records (moto server + emulator in the parent): "
        + ", ".join(f"{kind} {rss[kind] / 1024:.1f} MiB" for kind in rss)
        + f"; failed records {failed}",
    }


def _ready_rounds() -> dict[str, list[dict[str, Any]]]:
    env = _child_env()
    kinds = ("bare", "intake", "delivery", "baseline")
    for kind in kinds:  # compile .pyc first: the bundle ships precompiled
        _child(kind, env)
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for _ in range(ROUNDS):
        for kind in kinds:
            rows[kind].append(_child(kind, env))
    return rows


def _batch_rounds() -> dict[str, list[dict[str, Any]]]:
    """Each child processes one batch against a moto server and the emulator run here."""
    from alertbridge.models.config import BridgeConfig
    from alertbridge.sandbox.bridge import (
        LocalBridge,
        local_routing_key,
        temporary_environment,
        use_fake_credentials,
    )
    from alertbridge.sandbox.emulator import PagerDutyEmulator
    from alertbridge.sandbox.moto_server import SerialMotoServer

    use_fake_credentials()
    server = SerialMotoServer().start()
    try:
        with (
            temporary_environment({"AWS_ENDPOINT_URL": server.url}),
            PagerDutyEmulator(rate_limit=10**9) as emulator,
            tempfile.TemporaryDirectory() as tmp,
        ):
            config = BridgeConfig.model_validate({"routes": {"default": {}}})
            bridge = LocalBridge.create(config, emulator.url, name="bench-batch")
            intake_event, delivery_event = _batch_events(bridge)
            files = {}
            for name, event in (("intake", intake_event), ("delivery", delivery_event)):
                files[name] = Path(tmp) / f"{name}.json"
                files[name].write_text(json.dumps(event))
            env = _child_env(
                **bridge.environment(), AWS_ENDPOINT_URL=server.url, BENCH_ROUTING_KEY=local_routing_key("x")
            )
            plans = {
                "intake": ("intake", files["intake"], "alertbridge-intake"),
                "delivery": ("delivery", files["delivery"], "alertbridge-delivery"),
                "baseline": ("baseline", files["delivery"], "baseline"),
            }
            rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in plans}
            for _ in range(ROUNDS):
                for kind, (child, path, function) in plans.items():
                    child_env = {**env, "BENCH_EVENT_FILE": str(path), "AWS_LAMBDA_FUNCTION_NAME": function}
                    rows[kind].append(_child(child, child_env))
            return rows
    finally:
        server.stop()


def _batch_events(bridge: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One intake batch (SNS-wrapped alarms off the ingest queue) and one delivery batch (their notices off
    the FIFO queue), as Lambda's event sources hand them out."""
    import boto3

    from alertbridge.adapters.queues import SqsDeliveryQueue
    from alertbridge.logic.intake import prepare_for_delivery
    from alertbridge.logic.parsers import parse_sqs_body
    from alertbridge.models.delivery import AlertNotice
    from alertbridge.sandbox.event_source import SqsEventSource
    from alertbridge.sandbox.scenario import Metric, metric_alarm_message

    sqs = boto3.client("sqs", region_name="us-east-1")
    metric = Metric("AWS/Lambda", "Errors", {"FunctionName": "orders"}, threshold=5)
    at = datetime(2026, 3, 1, 8, tzinfo=UTC)
    for index in range(BATCH_RECORDS):
        bridge.publish(metric_alarm_message(f"bench-batch-{index}", "ALARM", "OK", at, metric, "bench"))
    captured: list[dict[str, Any]] = []

    def capture(event: dict[str, Any], context: Any) -> dict[str, Any]:
        captured.append(event)
        return {"batchItemFailures": []}

    SqsEventSource(sqs, bridge.queue_url, bridge.queue_arn, capture, batch_size=BATCH_RECORDS).poll_once()
    intake_event = captured.pop()
    queue = SqsDeliveryQueue(bridge.delivery_queue_url, client=sqs)
    for record in intake_event["Records"]:
        alert = parse_sqs_body(record["body"], received_at=at)
        queue.send(AlertNotice(alert=prepare_for_delivery(alert, transport_time=at), received_at=at))
    delivery = SqsEventSource(
        sqs, bridge.delivery_queue_url, bridge.delivery_queue_arn, capture, batch_size=BATCH_RECORDS
    )
    delivery.poll_once()
    return intake_event, captured.pop()


# client_cpu_ratio -----------------------------------------------------------------------------------------------


def client_cpu_ratio() -> dict[str, Any]:
    import httpx

    from alertbridge.client import EventsClient

    key = "C" * 32
    answer = b'{"status":"success","message":"Event processed","dedup_key":"k"}'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, content=answer, headers={"content-type": "application/json"})

    url = "https://events.pagerduty.com"
    bare = httpx.Client(base_url=url, transport=httpx.MockTransport(handler), timeout=httpx.Timeout(10.0))
    client = EventsClient(key, base_url=url, transport=httpx.MockTransport(handler))

    def bare_loop() -> None:
        for index in range(CLIENT_EVENTS):
            body = {
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": f"bench-{index}",
                "payload": {"summary": f"bench alarm {index}", "source": "bench", "severity": "error"},
            }
            response = bare.post("/v2/enqueue", json=body)
            if response.status_code != 202:
                raise RuntimeError(response.status_code)
            response.json().get("dedup_key")

    def client_loop() -> None:
        for index in range(CLIENT_EVENTS):
            client.trigger(
                f"bench alarm {index}", source="bench", severity="error", dedup_key=f"bench-{index}"
            )

    cpu = _median_rounds({"bare": bare_loop, "client": client_loop})
    bare.close()
    client.close()
    per = {name: seconds / CLIENT_EVENTS * 1e6 for name, seconds in cpu.items()}
    return {
        "client_cpu_ratio": round(per["client"] / per["bare"], 3),
        "_client_detail": f"EventsClient.trigger {per['client']:.1f} us, bare httpx POST {per['bare']:.1f} us "
        f"per event (CPU, {CLIENT_EVENTS} events per round, median of {ROUNDS} interleaved rounds)",
    }


# storm_ratio ----------------------------------------------------------------------------------------------------


def _trigger(index: int, routing_key: str) -> dict[str, Any]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f"bench-delivery-{index}",
        "payload": {"summary": f"bench alarm {index}", "source": "bench", "severity": "error"},
    }


def storm_ratio() -> dict[str, Any]:
    """The median of STORM_ROUNDS storms: one storm's time swings by a third with where the backoff jitter
    lands against the window's reset."""
    rounds = [_storm_round() for _ in range(STORM_ROUNDS)]
    ratios = sorted(round(elapsed / _storm_minimum(), 3) for elapsed, _, _, _ in rounds)
    median = statistics.median(ratios)
    elapsed, _, throttled, redelivered = min(rounds, key=lambda r: abs(r[0] / _storm_minimum() - median))
    return {
        "storm_ratio": round(median, 3),
        "storm_lost": max(r[1] for r in rounds),
        "_storm_detail": f"client + retry/deadline + requeue: median of {STORM_ROUNDS} storms {ratios}; "
        f"median storm: {STORM_ALARMS} triggers in {elapsed:.1f}s, minimum {_storm_minimum():.1f}s at "
        f"{STORM_LIMIT} per {STORM_WINDOW:g}s per routing key; {throttled} answers 429, {redelivered} records "
        "requeued",
    }


def _storm_minimum() -> float:
    return (math.ceil(STORM_ALARMS / STORM_LIMIT) - 1) * STORM_WINDOW


def _storm_round() -> tuple[float, int, int, int]:
    """The bridge's client with its retry and deadline rules: a record that runs out of budget goes back to the
    end of the queue (as SQS redelivers it), until every trigger is accepted. (elapsed, lost, 429s, requeued)"""
    from collections import deque

    from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter
    from alertbridge.errors import PagerDutyError
    from alertbridge.sandbox.emulator import PagerDutyEmulator

    key = "S" * 32
    with PagerDutyEmulator(rate_limit=STORM_LIMIT, window_seconds=STORM_WINDOW) as emulator:
        adapter = PagerDutyEventsAdapter(emulator.url, read_timeout=5.0)
        pending = deque(_trigger(i, key) for i in range(STORM_ALARMS))
        redelivered, started = 0, time.monotonic()
        while pending and time.monotonic() - started < 20 * STORM_WINDOW * STORM_ALARMS / STORM_LIMIT:
            body = pending.popleft()
            try:
                adapter.send(body, deadline=time.monotonic() + RECORD_BUDGET)
            except PagerDutyError:
                pending.append(body)
                redelivered += 1
        elapsed = time.monotonic() - started
        adapter.close()
        lost = sum(1 for i in range(STORM_ALARMS) if emulator.open_alert(f"bench-delivery-{i}") is None)
        throttled = sum(1 for request in emulator.requests if request.status == 429)
    return elapsed, lost, throttled, redelivered


def storm_pipeline_ratio() -> dict[str, Any]:
    with contextlib.redirect_stdout(io.StringIO()):  # the handlers' metric and log lines
        return _storm_pipeline()


def _storm_pipeline() -> dict[str, Any]:
    from moto import mock_aws

    from alertbridge import wiring
    from alertbridge.adapters.dynamo_state import reset_default_client
    from alertbridge.models.config import BridgeConfig
    from alertbridge.sandbox.bridge import LocalBridge, use_fake_credentials
    from alertbridge.sandbox.emulator import PagerDutyEmulator
    from alertbridge.sandbox.scenario import Metric, alarm_arn, metric_alarm_message

    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "CRITICAL"
    use_fake_credentials()
    metric = Metric("AWS/ECS", "CPUUtilization", {"ClusterName": "prod"}, threshold=90)
    at = datetime(2026, 3, 1, 8, tzinfo=UTC)
    names = [f"storm-{i:04d}" for i in range(STORM_PIPELINE_ALARMS)]
    with mock_aws(), PagerDutyEmulator(rate_limit=STORM_LIMIT, window_seconds=STORM_WINDOW) as emulator:
        reset_default_client()
        config = BridgeConfig.model_validate({"routes": {"default": {}}})
        bridge = LocalBridge.create(config, emulator.url, max_receive_count=1000, name="bench-storm")
        bridge.activate()
        from alertbridge.observability import logger

        logger.setLevel("CRITICAL")
        for name in names:
            bridge.publish(metric_alarm_message(name, "ALARM", "OK", at, metric, "storm"))
        started = time.monotonic()
        bridge.stages().drain(max_batches=100_000)
        elapsed = time.monotonic() - started
        lost = sum(1 for name in names if emulator.open_alert(alarm_arn(name)) is None)
        throttled = sum(1 for request in emulator.requests if request.status == 429)
        wiring.reset()
    minimum = (math.ceil(STORM_PIPELINE_ALARMS / STORM_LIMIT) - 1) * STORM_WINDOW
    return {
        "storm_pipeline_ratio": round(elapsed / minimum, 3),
        "storm_pipeline_lost": lost,
        "_storm_pipeline_detail": f"{STORM_PIPELINE_ALARMS} triggers in {elapsed:.1f}s, minimum {minimum:.1f}s "
        f"at {STORM_LIMIT} per {STORM_WINDOW:g}s per routing key, {throttled} answers 429; {STORM_TARGET_NOTE}",
    }


# hot-path calls -------------------------------------------------------------------------------------------------


class CountingPort:
    """Counts every method call on the wrapped port, by method name (tests/fakes.py's counters, generalized)."""

    def __init__(self, port: Any, name: str, counts: Counter[str]) -> None:
        self._port, self._name, self._counts = port, name, counts

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._port, attribute)
        if not callable(value):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._counts[f"{self._name}.{attribute}"] += 1
            return value(*args, **kwargs)

        return counted


def hot_path_calls() -> dict[str, Any]:
    with contextlib.redirect_stdout(io.StringIO()):
        return _hot_path_calls()


def _hot_path_calls() -> dict[str, Any]:
    from moto import mock_aws

    from alertbridge import wiring
    from alertbridge.adapters.dynamo_state import default_client, reset_default_client
    from alertbridge.logic.intake import prepare_for_delivery
    from alertbridge.logic.parsers import parse_sqs_body
    from alertbridge.models.config import BridgeConfig
    from alertbridge.models.delivery import AlertNotice
    from alertbridge.models.settings import settings
    from alertbridge.sandbox.bridge import LocalBridge, use_fake_credentials
    from alertbridge.sandbox.emulator import PagerDutyEmulator
    from alertbridge.sandbox.scenario import Metric, metric_alarm_message
    from alertbridge.wiring import delivery as delivery_wiring
    from tests.fakes import ListCounter

    use_fake_credentials()
    metric = Metric("AWS/Lambda", "Errors", {"FunctionName": "orders"}, threshold=5)
    at = datetime(2026, 3, 1, 8, tzinfo=UTC)
    with mock_aws(), PagerDutyEmulator(rate_limit=10**9) as emulator:
        reset_default_client()
        config = BridgeConfig.model_validate({"routes": {"default": {}}})
        bridge = LocalBridge.create(config, emulator.url, name="bench-calls")
        bridge.activate()
        ports: Counter[str] = Counter()
        dynamodb: Counter[str] = Counter()
        default_client().meta.events.register(
            "before-call.dynamodb", lambda model, **_: dynamodb.update([model.name])
        )
        pipeline = delivery_wiring.build_delivery_pipeline(settings(), ListCounter())
        for name in ("state", "maintenance", "links", "keys", "events"):
            setattr(pipeline, name, CountingPort(getattr(pipeline, name), name, ports))

        def notice(state: str, old: str, minutes: int) -> AlertNotice:
            when = at + timedelta(minutes=minutes)
            body = metric_alarm_message("bench-calls", state, old, when, metric, "bench")
            alert = prepare_for_delivery(parse_sqs_body(body, received_at=when), transport_time=when)
            return AlertNotice(alert=alert, received_at=when)

        steps: dict[str, tuple[dict[str, int], dict[str, int], int]] = {}
        for step, message in (
            ("trigger", notice("ALARM", "OK", 0)),
            ("duplicate", notice("ALARM", "OK", 0)),
            ("resolve", notice("OK", "ALARM", 10)),
        ):
            ports.clear()
            dynamodb.clear()
            before = len(emulator.requests)
            pipeline.deliver(message, now=datetime.now(UTC), deadline=time.monotonic() + 20)
            steps[step] = (dict(dynamodb), dict(ports), len(emulator.requests) - before)
        wiring.reset()
        reset_default_client()

    def described(step: str) -> str:
        api, port_calls, http = steps[step]
        return f"{step}: DynamoDB {api or '{}'}, PagerDuty HTTP {http}, ports {port_calls}"

    return {
        "dynamodb_calls_per_trigger": sum(steps["trigger"][0].values()),
        "dynamodb_calls_per_duplicate": sum(steps["duplicate"][0].values()),
        "pagerduty_calls_per_resolve": steps["resolve"][2],
        "_hot_path_detail": "; ".join(described(step) for step in steps),
    }


# bundle_bytes ---------------------------------------------------------------------------------------------------


def bundle_bytes() -> dict[str, Any]:
    try:
        return _build_bundle()
    except Exception as exc:  # offline, no pip wheels for the platform, no node for jsii...
        return {"bundle_bytes": None, "_bundle_detail": f"not built: {type(exc).__name__}: {str(exc)[:300]}"}


def _build_bundle() -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    from aws_cdk import DockerImage

    from infra.bundling import LocalPipBundling, locked_requirements, target_python
    from infra.settings import InfraConfigError

    pins = locked_requirements()
    try:
        python: str | None = target_python()
    except InfraConfigError:
        python = None
    with tempfile.TemporaryDirectory() as tmp:
        out, archive = Path(tmp) / "asset", Path(tmp) / "asset.zip"
        out.mkdir()
        bundling = LocalPipBundling(pins, config_text="{}", bytecode=python is not None)
        bundling.try_bundle(str(out), image=DockerImage.from_registry("unused"))
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    zipped.write(path, path.relative_to(out).as_posix())
        files = sum(1 for path in out.rglob("*") if path.is_file())
        size = archive.stat().st_size
    compiled = "precompiled with python3.13" if python else "no python3.13 here: no .pyc in the bundle"
    return {
        "bundle_bytes": size,
        "_bundle_detail": f"{files} files, requirements {pins}, {compiled}",
    }


# report ---------------------------------------------------------------------------------------------------------


def verdict(name: str, value: Any) -> str:
    if name not in TARGETS:
        return "-"
    if value is None:
        return "n/a"
    _, target = TARGETS[name]
    return "PASS" if value <= target else "OVER"


def measures() -> Iterator[Callable[[], dict[str, Any]]]:
    selected = {name for name in os.environ.get("ALERTBRIDGE_BENCH_ONLY", "").split(",") if name}
    for measure in (
        render_ratio,
        init_and_rss,
        client_cpu_ratio,
        storm_ratio,
        storm_pipeline_ratio,
        hot_path_calls,
        bundle_bytes,
    ):
        if not selected or measure.__name__ in selected:
            yield measure


def main() -> int:
    # The figures are the output: retry warnings from the storm runs would only bury them.
    logging.getLogger("alertbridge").setLevel(logging.ERROR)
    results: dict[str, Any] = {}
    for measure in measures():
        print(f"measuring {measure.__name__} ...", file=sys.stderr, flush=True)
        results.update(measure())
    figures = {name: value for name, value in results.items() if not name.startswith("_")}
    print(f"\n{'figure':<36}{'value':>12}  {'target':<12}verdict")
    for name, value in figures.items():
        op, target = TARGETS.get(name, ("", ""))
        shown = "null" if value is None else str(value)
        print(f"{name:<36}{shown:>12}  {f'{op} {target}' if op else '-':<12}{verdict(name, value)}")
    print()
    for name, detail in results.items():
        if name.startswith("_"):
            print(f"  {name[1:]}: {detail}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
