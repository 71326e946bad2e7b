"""`alertbridge demo` shows one incident's graph image URL (on the configured public https base) and fetches
that path and token from the real webhook handler on loopback: 200 image/png, then 403 and 404."""

from __future__ import annotations

from tests.integration.test_demo import run_cli


def test_the_demo_fetches_an_incident_graph_from_the_loopback_route() -> None:
    result = run_cli("demo", "--storm", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    step = result.stdout.split("== a metric graph in the incident", 1)[1].split("\n==", 1)[0]
    assert "src  https://alertbridge-graphs.example.com/graph/" in step
    assert "GET the image         -> HTTP 200 (image/png" in step
    assert "GET a tampered token  -> HTTP 403" in step
    assert "GET an expired token  -> HTTP 404" in step
