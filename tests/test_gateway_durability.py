"""The exchange log under stress: kill -9 loses no acknowledged exchange, restarts rebuild state, a failing
sink follows the fail-open / fail-closed rule, and what was written always ingests with --strict."""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.policy import Action, Scope, default_policy, export_snapshot
from distillguard.policy import decisions as dec
from distillguard.store import Store
from gateway_world import GatewayProcess, anthropic_request, openai_request, read_log, run_upstream


def _ingest_strict(log_dir: Path, store: Path) -> str:
    res = CliRunner().invoke(app, ["ingest", str(log_dir), "--store", str(store), "--strict", "--quiet"])
    assert res.exit_code == 0, res.output
    with Store.open(store, read_only=True) as st:
        assert st.count("quarantine") == 0
        return str(st.count("exchanges"))


def test_kill_loses_no_acknowledged_exchange(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with run_upstream() as (_, url):
        gw = GatewayProcess(url, log_dir)

        def client(n: int) -> None:
            with httpx.Client(base_url=gw.url, timeout=5) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    stream = i % 4 == 0
                    body = (
                        anthropic_request(f"load {n}-{i}", stream=stream) if n % 2 else openai_request(f"load {n}-{i}")
                    )
                    try:
                        r = c.post(
                            "/v1/messages" if n % 2 else "/v1/chat/completions",
                            json=body,
                            headers={"x-account-id": f"k{n}"},
                        )
                    except httpx.HTTPError:
                        continue  # the gateway died mid-request: not acknowledged
                    if r.status_code == 200 and (not stream or "message_stop" in r.text):
                        with lock:
                            acked.append(r.headers["x-distillguard-request-id"])

        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 150 and time.monotonic() < deadline:
            time.sleep(0.02)
        gw.kill()  # SIGKILL while requests are in flight
        stop.set()
        for t in threads:
            t.join()
        assert len(acked) >= 150
        assert list(log_dir.glob("*.jsonl.part")), "the open shard should be left behind by the kill"
        # A restart closes the torn shard; then nothing acknowledged is missing.
        GatewayProcess(url, log_dir).stop()
    assert not list(log_dir.glob("*.jsonl.part"))
    logged = {rec["request_id"] for rec in read_log(log_dir)}
    missing = set(acked) - logged
    assert not missing, f"{len(missing)} acknowledged exchanges lost"
    assert int(_ingest_strict(log_dir, tmp_path / "s.duckdb")) == len(logged)


def test_restart_rebuilds_counters_and_keeps_enforcing(tmp_path: Path) -> None:
    store, snap = tmp_path / "s.duckdb", tmp_path / "s.enforcement.json"
    with Store.open(store) as st:
        dec.create(st, Scope.account, "t1", Action.throttle, {"rate_per_minute": 3}, "tester")
        export_snapshot(st, snap, default_policy().online)
    with run_upstream() as (_, url):
        gw = GatewayProcess(url, tmp_path / "log", ["--store", str(store)])
        post = lambda: httpx.post(gw.url + "/v1/messages", json=anthropic_request("x"), headers={"x-account-id": "t1"})  # noqa: E731
        assert [post().status_code for _ in range(3)] == [200, 200, 200]
        gw.stop()
        gw = GatewayProcess(url, tmp_path / "log", ["--store", str(store)])
        try:
            r = post()
            assert r.status_code == 429, "the per-account window must survive a restart"
        finally:
            gw.stop()
    _ingest_strict(tmp_path / "log", tmp_path / "i.duckdb")


def _limit_file_size(limit: int):  # type: ignore[no-untyped-def]
    def apply() -> None:
        # A real failing sink: writes past `limit` bytes fail with EFBIG (Python ignores SIGXFSZ).
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_failing_log_sink_follows_fail_mode(tmp_path: Path, mode: str) -> None:
    log_dir = tmp_path / "log"
    with run_upstream() as (upstream, url):
        gw = GatewayProcess(url, log_dir, ["--fail-mode", mode], preexec=_limit_file_size(6000))
        try:
            codes, ids = [], []
            for i in range(25):
                r = httpx.post(
                    gw.url + "/v1/chat/completions",
                    json=openai_request(f"fill {i}"),
                    headers={"x-account-id": "f1"},
                    timeout=10,
                )
                codes.append(r.status_code)
                if r.status_code == 200:
                    ids.append(r.headers["x-distillguard-request-id"])
            health = gw.health()
        finally:
            gw.stop()
    logged = {rec["request_id"] for rec in read_log(log_dir)}
    assert 0 < len(logged) < 25 and health["stats"]["unlogged"] == 25 - len(logged)
    if mode == "closed":
        assert set(codes) == {200, 503} and set(ids) == logged  # every released response was logged
        assert codes.index(503) == len(logged)
    else:
        assert set(codes) == {200} and set(ids) >= logged
    assert len(upstream.seen) == 25
    _ingest_strict(log_dir, tmp_path / "s.duckdb")  # failed writes left no torn line behind
