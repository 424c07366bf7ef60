"""`distillguard serve` as a process, and the dashboard while another process writes the store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from distillguard.cli import app as cli_app
from web_world import TOKEN, build_world, logged_in


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_world(tmp_path_factory.mktemp("web_serve"))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_command_answers_over_http(world: tuple[Path, Path], tmp_path: Path) -> None:
    results, store = world
    cfg = tmp_path / "dash.toml"
    cfg.write_text('[dashboard]\nsalt_file = "salt"\n', encoding="utf-8")
    (tmp_path / "salt").write_text("a-salt-of-the-sharing-group-1234\n", encoding="utf-8")
    port = _port()
    env = {**os.environ, "DISTILLGUARD_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "distillguard", "serve", "--store", str(store), "--listen", f"127.0.0.1:{port}",
           "--results", str(results), "--config", str(cfg)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                login = httpx.get(base + "/login")
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        assert login.status_code == 200 and "Dashboard token" in login.text
        assert httpx.get(base + "/").status_code == 303
        assert httpx.get(base + "/api/campaigns").status_code == 401
        h = {"Authorization": f"Bearer {TOKEN}"}
        assert [c["campaign_id"] for c in httpx.get(base + "/api/campaigns", headers=h).json()] == ["C001"]
        cols = httpx.get(base + "/taxii2/api1/collections/", headers=h).json()
        assert len(cols["collections"]) == 1
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_refuses_bad_arguments(world: tuple[Path, Path]) -> None:
    _, store = world
    run = CliRunner().invoke(
        cli_app, ["serve", "--store", str(store), "--listen", "nowhere"], env={"DISTILLGUARD_TOKEN": TOKEN}
    )
    assert run.exit_code != 0 and "HOST:PORT" in str(run.exception)
    run = CliRunner().invoke(cli_app, ["serve", "--store", str(store)], env={"DISTILLGUARD_TOKEN": ""})
    assert run.exit_code != 0 and "no dashboard token" in str(run.exception)


def test_store_held_by_another_writer_gives_503_then_recovers(world: tuple[Path, Path]) -> None:
    _, store = world
    client = logged_in(store)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, duckdb; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "sys.stdin.readline()", str(store)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = client.get("/")
        assert busy.status_code == 503 and "another process" in busy.text
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(10)
    assert client.get("/").status_code == 200
