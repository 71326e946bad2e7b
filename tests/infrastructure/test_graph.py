"""Graph images: only the rendering (webhook) function may call GetMetricWidgetImage; the graph key is a
generated secret of its own, read by the renderer and the signer (delivery) only; the delivery function
gets the public base URL (the webhook function's URL)."""

from __future__ import annotations

import json
from typing import Any

from tests.infrastructure.conftest import Synth
from tests.infrastructure.test_iam import actions, statements

RENDER = "cloudwatch:GetMetricWidgetImage"


def functions(synth: Synth) -> dict[str, Any]:
    bridge = synth.stack.bridge
    return {
        "intake": bridge.intake_function,
        "delivery": bridge.delivery,
        "webhook": bridge.webhook,
        "reconciler": bridge.reconciler,
    }


def test_only_the_rendering_function_may_call_get_metric_widget_image(synth: Synth) -> None:
    allowed = {
        name
        for name, fn in functions(synth).items()
        if any(RENDER in actions(s) for s in statements(synth, fn))
    }
    assert allowed == {"webhook"}
    everywhere = [
        statement
        for policy in synth.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if RENDER in actions(statement)
    ]
    assert len(everywhere) == 1
    assert actions(everywhere[0]) == {RENDER}


def test_graph_key_is_generated_and_read_only_by_the_renderer_and_the_signer(synth: Synth) -> None:
    secret_id = synth.logical_id(synth.stack.bridge.graph.secret)
    secret = synth.resources[secret_id]["Properties"]
    assert secret["GenerateSecretString"]["PasswordLength"] == 64
    readers = {
        name
        for name, fn in functions(synth).items()
        if any(secret_id in json.dumps(s["Resource"]) for s in statements(synth, fn))
    }
    assert readers == {"webhook", "delivery"}


def test_delivery_gets_the_base_url_and_both_get_the_secret(synth: Synth) -> None:
    bridge = synth.stack.bridge

    def env(fn: Any) -> dict[str, Any]:
        return synth.resources[synth.logical_id(fn.function)]["Properties"]["Environment"]["Variables"]  # type: ignore[no-any-return]

    delivery, webhook = env(bridge.delivery), env(bridge.webhook)
    url_id = synth.stack.get_logical_id(bridge.webhook.url.node.default_child)
    assert delivery["ALERTBRIDGE_GRAPH_BASE_URL"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}
    assert "ALERTBRIDGE_GRAPH_BASE_URL" not in webhook
    assert delivery["ALERTBRIDGE_GRAPH_SECRET"] == webhook["ALERTBRIDGE_GRAPH_SECRET"]
    assert "ALERTBRIDGE_GRAPH_SECRET" not in env(bridge.intake_function)
