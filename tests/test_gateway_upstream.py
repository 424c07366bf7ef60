"""Upstream failures: unreachable (502), too slow (504), in the API's shape, logged, gateway unharmed."""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway_world import GatewayProcess, anthropic_request, free_port, openai_request, read_log, run_upstream


def test_unreachable_upstream_gives_502(tmp_path: Path) -> None:
    gw = GatewayProcess(f"http://127.0.0.1:{free_port()}", tmp_path / "log")
    try:
        r = httpx.post(gw.url + "/v1/chat/completions", json=openai_request("x"), headers={"x-account-id": "u1"})
        assert r.status_code == 502 and r.json()["error"]["type"] == "server_error"
        assert gw.health()["stats"]["upstream_errors"] == 1
    finally:
        gw.stop()
    (rec,) = read_log(tmp_path / "log")
    assert rec["status"] == 502 and rec["response"] is None


def test_slow_upstream_gives_504_and_keeps_serving(tmp_path: Path) -> None:
    with run_upstream() as (upstream, url):
        gw = GatewayProcess(url, tmp_path / "log", ["--upstream-timeout", "0.5"])
        try:
            upstream.delay_s = 2.0
            r = httpx.post(gw.url + "/v1/messages", json=anthropic_request("x"), headers={"x-account-id": "u2"})
            assert r.status_code == 504 and r.json()["error"]["type"] == "timeout_error"
            upstream.delay_s = 0.0
            r = httpx.post(gw.url + "/v1/messages", json=anthropic_request("y"), headers={"x-account-id": "u2"})
            assert r.status_code == 200
        finally:
            gw.stop()
    assert [rec["status"] for rec in read_log(tmp_path / "log")] == [504, 200]
