"""Tracing watermark: keyed, meaning-preserving marks in response text, and their detection.

Contract.
- ``account_key(secret, account_id)``: the account's key, HMAC-SHA256(secret, account_id).
- ``mark_text(text, key)``: the key's choice written at every *slot* (a set of interchangeable
  phrasings: contractions, sentence adverbials, adverb synonyms; see ``lexicon``); the choice depends
  on the key, the slot and the previous word. Code (fenced or inline), JSON, quoted material, numbers,
  identifiers, URLs and code-like lines are never touched. No logits needed: it works on text only.
- ``StreamMarker(key).feed(delta) -> str`` / ``.flush() -> str``: the same output as ``mark_text`` for
  any chunking, holding text back only to the end of the current sentence or line.
- ``mark_anthropic_response`` / ``mark_openai_response``: copies of response bodies, still valid, with
  their text marked (tool calls and signed thinking blocks untouched).
- ``detect(texts, keys)``: per key an exact conditional p-value (see ``detect``), z-score and counts.

Imports: errors and numpy only (plus the standard library); nothing from the detector pipeline.
"""

from distillguard.watermark.detect import Detection, UnitCounts, detect, detect_counts
from distillguard.watermark.marker import (
    KeyedChoice,
    StreamMarker,
    account_key,
    key_fingerprint,
    mark_anthropic_response,
    mark_openai_response,
    mark_text,
)

__all__ = [
    "Detection",
    "KeyedChoice",
    "StreamMarker",
    "UnitCounts",
    "account_key",
    "detect",
    "detect_counts",
    "key_fingerprint",
    "mark_anthropic_response",
    "mark_openai_response",
    "mark_text",
]
