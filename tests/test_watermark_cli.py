"""`distillguard watermark mark|detect` on real files and a real store."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.errors import InputError
from distillguard.watermark import account_key, mark_anthropic_response
from watermark_corpus import prose


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_mark_then_detect_with_a_key_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"provider-secret\n")
    src = tmp_path / "answers.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in prose(20, seed=3)), encoding="utf-8")
    marked = tmp_path / "marked.jsonl"
    _run(["watermark", "mark", str(src), "--out", str(marked), "--account", "acct_9", "--secret-file", str(secret)])
    keyfile = tmp_path / "keys.json"
    keyfile.write_text(json.dumps({f"acct_{i}": account_key(b"provider-secret", f"acct_{i}").hex() for i in range(20)}))
    report = tmp_path / "report.json"
    out = _run(["watermark", "detect", str(marked), "--keys", str(keyfile), "--json", str(report)])
    assert "keys present at adjusted p < 1e-06: acct_9" in out
    rows = json.loads(report.read_text())
    assert rows[0]["key_id"] == "acct_9" and rows[0]["detected"] and not any(r["detected"] for r in rows[1:])
    out = _run(["watermark", "detect", str(src), "--keys", str(keyfile)])
    assert "keys present at adjusted p < 1e-06: none" in out


def test_detect_with_every_account_in_a_store(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"provider-secret")
    key = account_key(b"provider-secret", "acct_b")

    log = tmp_path / "log.jsonl"
    lines = []
    for i, text in enumerate(prose(20, seed=5)):
        acct = ("acct_a", "acct_b", "acct_c")[i % 3]
        body = {"id": f"m{i}", "type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}
        lines.append(
            {
                "request_id": f"r{i}",
                "ts": "2026-02-10T12:00:00Z",
                "account": {"id": acct},
                "client": {"ip": "203.0.113.5"},
                "api": "anthropic.messages",
                "request": {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10},
                "response": mark_anthropic_response(body, key),
            }
        )
    log.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    store = tmp_path / "store.duckdb"
    _run(["ingest", str(log), "--store", str(store), "--quiet"])
    out = _run(["watermark", "detect", str(log), "--accounts", str(store), "--secret-file", str(secret)])
    assert "3 keys tested" in out
    assert "keys present at adjusted p < 1e-06: acct_b" in out


def test_detect_needs_exactly_one_key_source(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("It is usually fine.")
    result = CliRunner().invoke(app, ["watermark", "detect", str(f)])
    assert isinstance(result.exception, InputError) and "exactly one of" in str(result.exception)
