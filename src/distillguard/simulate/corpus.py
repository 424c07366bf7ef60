"""Real prompt corpora for ``simulate --prompts DIR``.

Two layouts are read:

* any ``*.jsonl`` file whose records are ``{"text": ..., "kind": ...}``; ``kind`` is a capability area
  (see ``scenario.CAPABILITIES``) or one of the aliases in ``KIND_ALIASES``;
* the layout of the project's public-corpora folder (``gsm8k/``, ``gpteacher/``, ``arena-hard/``,
  ``oasst/``, ``sharegpt/``, ``prometheus/``, ``fastchat-judge/``), mapped to capability areas by file.

The texts fill the ``{item}`` slot of the prompt generators, so templates wrap real prompts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distillguard.errors import InputError
from distillguard.simulate.scenario import CAPABILITIES

log = logging.getLogger(__name__)

MAX_PER_KIND = 20_000
MAX_CHARS = 6_000
KIND_ALIASES = {
    "math": "reasoning",
    "gsm8k": "reasoning",
    "code": "coding",
    "codegen": "coding",
    "tool": "agentic",
    "toolformer": "agentic",
    "tool_use": "agentic",
    "judge": "grading",
    "rubric": "grading",
    "conversation": "chat",
    "general": "chat",
    "roleplay": "chat",
    "rewrite": "safe_rewrite",
    "analysis": "data_analysis",
    "summarize": "summarization",
    "translate": "translation",
}
# file name fragment in the shared-corpora layout -> capability
_LAYOUT = (
    ("gsm8k", "reasoning"),
    ("codegen", "coding"),
    ("toolformer", "agentic"),
    ("roleplay", "chat"),
    ("arena-hard", "chat"),
    ("oasst", "chat"),
    ("sharegpt", "chat"),
    ("prometheus", "grading"),
    ("mt_bench_question", "chat"),
)


def load_corpus(folder: Path) -> dict[str, tuple[str, ...]]:
    """Read every usable file under ``folder``; raise InputError when nothing usable is found."""
    if not folder.is_dir():
        raise InputError(f"{folder}: --prompts must be a folder of JSONL files")
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in (".jsonl", ".json"):
            continue
        for kind, text in _records(path, folder):
            cap = KIND_ALIASES.get(kind, kind)
            if cap not in CAPABILITIES or not text.strip():
                continue
            bucket = found.setdefault(cap, [])
            if len(bucket) < MAX_PER_KIND:
                bucket.append(text.strip()[:MAX_CHARS])
    if not found:
        raise InputError(f'{folder}: no prompt records found (expected JSONL lines {{"text": ..., "kind": ...}})')
    log.info("prompt corpus: %s", {k: len(v) for k, v in found.items()})
    return {k: tuple(v) for k, v in sorted(found.items())}


def _layout_kind(path: Path, root: Path) -> str | None:
    rel = str(path.relative_to(root))
    for frag, cap in _LAYOUT:
        if frag in rel:
            return cap
    return None


def _records(path: Path, root: Path) -> Iterator[tuple[str, str]]:
    fixed = _layout_kind(path, root)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    if path.suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON: {exc}") from exc
        rows: list[Any] = data if isinstance(data, list) else []
    else:
        rows = []
        for lineno, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not valid JSON: {exc}") from exc
    for row in rows:
        text = _text_of(row)
        if text is None:
            continue
        kind = row.get("kind") if isinstance(row, dict) and isinstance(row.get("kind"), str) else fixed
        if kind:
            yield kind, text


def _text_of(row: Any) -> str | None:
    if isinstance(row, str):
        return row
    if not isinstance(row, dict):
        return None
    for key in ("text", "question", "instruction", "prompt"):
        v = row.get(key)
        if isinstance(v, str):
            extra = row.get("input")
            return v + ("\n" + extra if key == "instruction" and isinstance(extra, str) and extra else "")
    turns = row.get("turns") or row.get("conversations")
    if isinstance(turns, list) and turns:
        for t in turns:
            if isinstance(t, str):
                return t
            if isinstance(t, dict) and t.get("from", "human") in ("human", "user"):
                v = t.get("content", t.get("value"))
                if isinstance(v, str):
                    return v
    return None
