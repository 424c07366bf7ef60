"""Reading the texts to test and the keys to test them with (the edge of the watermark package)."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from distillguard.errors import InputError


def _open_text(path: Path) -> io.TextIOBase:
    try:
        if path.name.endswith(".gz"):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
        if path.name.endswith(".zst"):
            import zstandard

            return io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(path.open("rb")), encoding="utf-8")
        return path.open("r", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None


def _assistant_texts(obj: Any) -> Iterator[str]:
    """The model-written text in one record: a string, an exchange-log line, a response body, a chat."""
    if isinstance(obj, str):
        yield obj
        return
    if isinstance(obj, list):
        for item in obj:
            yield from _assistant_texts(item)
        return
    if not isinstance(obj, dict):
        return
    if isinstance(obj.get("response"), dict):  # exchange-log record
        yield from _assistant_texts(obj["response"])
        return
    if isinstance(obj.get("choices"), list):  # OpenAI chat completion
        for ch in obj["choices"]:
            msg = ch.get("message") if isinstance(ch, dict) else None
            if isinstance(msg, dict):
                yield from _content(msg.get("content"))
        return
    if obj.get("type") == "message" or (isinstance(obj.get("content"), list) and "role" in obj):
        if obj.get("role", "assistant") == "assistant":
            yield from _content(obj.get("content"))
        return
    for conv_key in ("conversations", "messages"):
        if isinstance(obj.get(conv_key), list):
            for turn in obj[conv_key]:
                speaker = turn.get("role", turn.get("from")) if isinstance(turn, dict) else None
                if speaker in ("assistant", "gpt"):
                    yield from _content(turn.get("value", turn.get("content")))
            return
    for key in ("text", "completion", "output", "response", "answer", "content"):
        if isinstance(obj.get(key), str):
            yield obj[key]
            return


def _content(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                yield part["text"]


def read_texts(path: Path) -> Iterator[str]:
    """Texts in ``path``: plain text (one text), JSON or JSON Lines (optionally .gz/.zst).

    From JSON records it takes the model's side: exchange-log lines (response bodies of either API),
    response bodies, chats (assistant / gpt turns) or the first of text/completion/output/response/
    answer/content. A line that is not JSON is an error naming the file and line.
    """
    name = path.name.removesuffix(".gz").removesuffix(".zst")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    with _open_text(path) as fh:
        if name.endswith(".jsonl"):
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InputError(f"{path}:{lineno}: not JSON ({exc})") from None
                yield from _assistant_texts(obj)
        elif name.endswith(".json"):
            try:
                obj = orjson.loads(fh.read())
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{path}: not JSON ({exc})") from None
            yield from _assistant_texts(obj)
        else:
            yield fh.read()


def read_keys(path: Path) -> dict[str, bytes]:
    """Keys by name from a JSON object ``{"name": "hex key"}`` or lines ``name hexkey``."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    pairs: list[tuple[str, str, int]] = []
    if raw.lstrip().startswith("{"):
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}: not JSON ({exc})") from None
        pairs = [(str(k), str(v), 0) for k, v in obj.items()]
    else:
        for lineno, line in enumerate(raw.splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                parts = line.split()
                if len(parts) != 2:
                    raise InputError(f"{path}:{lineno}: expected 'name hexkey'")
                pairs.append((parts[0], parts[1], lineno))
    keys: dict[str, bytes] = {}
    for name, hexkey, lineno in pairs:
        try:
            keys[name] = bytes.fromhex(hexkey)
        except ValueError:
            where = f"{path}:{lineno}" if lineno else f"{path} ({name})"
            raise InputError(f"{where}: key is not hex") from None
        if not keys[name]:
            raise InputError(f"{path}: empty key for {name}")
    if not keys:
        raise InputError(f"{path}: no keys")
    return keys
