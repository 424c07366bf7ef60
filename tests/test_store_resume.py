"""A process killed mid-ingest leaves a consistent store; the next run completes the file exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from distillguard.pipeline import IngestOptions, ingest_paths

LINES = 60_000


def _write_log(path: Path) -> None:
    template = json.dumps(
        {
            "request_id": "REQ",
            "ts": "2026-02-10T12:00:00Z",
            "account": {"id": "acct_1"},
            "client": {"ip": "192.0.2.1"},
            "api": "anthropic.messages",
            "request": {"model": "m", "messages": [{"role": "user", "content": "hello " * 20}]},
        }
    )
    with path.open("w") as fh:
        for i in range(LINES):
            fh.write("{broken\n" if i % 1000 == 7 else template.replace("REQ", f"req_{i}") + "\n")


def _counts(store: Path) -> tuple[int, int, int, int, int]:
    with duckdb.connect(str(store), read_only=True) as con:
        ex = con.execute("SELECT count(*), count(DISTINCT request_id) FROM exchanges").fetchall()[0]
        q = con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
        led = con.execute(
            "SELECT coalesce(sum(stored), 0), coalesce(sum(quarantined), 0) FROM ingest_ledger"
        ).fetchall()
    return ex[0], ex[1], q, led[0][0], led[0][1]


def test_sigkill_after_first_batch_then_resume(tmp_path: Path) -> None:
    log, store = tmp_path / "big.jsonl", tmp_path / "s.duckdb"
    _write_log(log)
    cmd = [sys.executable, "-m", "distillguard", "ingest", str(log), "--store", str(store)]
    cmd += ["--batch-rows", "1000", "-q", "-v"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # -v logs one line per committed batch
        if "committed lines" in line:
            break
    assert proc.poll() is None, "ingest finished before it could be killed; make the log bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    stored, distinct, quarantined, ledger_stored, ledger_quarantined = _counts(store)
    assert 0 < stored < LINES - LINES // 1000  # killed mid-file
    assert stored == distinct == ledger_stored  # no partial batch: rows match the ledger exactly
    assert quarantined == ledger_quarantined

    summary = ingest_paths([log], store, IngestOptions(batch_rows=1000))
    assert summary.files[0].resumed_after > 0
    stored, distinct, quarantined, _, _ = _counts(store)
    assert stored == distinct
    assert stored + quarantined == LINES  # every line stored or quarantined exactly once
    assert quarantined == sum(1 for i in range(LINES) if i % 1000 == 7)
    assert summary.duplicates == 0


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_sigkill_leaves_no_parser_processes_behind(tmp_path: Path) -> None:
    log, store = tmp_path / "big.jsonl", tmp_path / "s.duckdb"
    line = json.dumps(
        {"request_id": "REQ", "ts": "2026-02-10T12:00:00Z", "account": {"id": "a"}, "client": {"ip": "192.0.2.1"},
         "api": "anthropic.messages", "request": {"messages": [{"role": "user", "content": "x" * 200}]}}
    )  # fmt: skip
    with log.open("w") as fh:  # over PARALLEL_MIN_BYTES, so a process pool parses it
        for i in range(20 * 1024 * 1024 // len(line)):
            fh.write(line.replace("REQ", f"r{i}") + "\n")
    cmd = [sys.executable, "-m", "distillguard", "ingest", str(log), "--store", str(store), "--batch-rows", "1000"]
    proc = subprocess.Popen([*cmd, "-q", "-v"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for message in proc.stderr:
        if "committed lines" in message:
            break
    helpers = _descendants(proc.pid)
    assert helpers, "no parser processes were started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in helpers):
        time.sleep(0.2)
    assert not [p for p in helpers if Path(f"/proc/{p}").exists()]
