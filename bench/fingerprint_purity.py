"""Family purity and completeness of the fingerprint stage on real prompts, paraphrased here.

    .venv/bin/python bench/fingerprint_purity.py --data ../shared/data

Real prompts (gsm8k, GPTeacher codegen / toolformer / roleplay, arena-hard, OASST, ShareGPT human
turns) play three parts:
  * wrapped: each of a few instruction templates (written here) wraps many different real questions,
    and every instance of the instruction is lightly paraphrased (synonyms swapped, a filler word
    inserted or dropped, two sentences swapped) -> each template should be one family;
  * near-duplicates: a real chat prompt sent again lightly paraphrased, 3 times -> one family each;
  * singles: real chat prompts and bare benchmark questions (also the ones the templates wrapped)
    -> must not merge with each other or with a template family.
Reports purity (exchange-weighted share of the majority label in each predicted family),
completeness of each template (share of its instances in its largest family), and how many singles
ended up in a family with anything else.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa

from distillguard.fingerprint import FingerprintConfig, fingerprint

TEMPLATES = [
    "Solve the following problem. Think through it step by step, show every intermediate result, "
    "and give the final answer on the last line.\n\n{q}",
    "Here is a task. First restate it in your own words, then explain your reasoning in detail "
    "before you write the final solution.\nTask: {q}",
    "{q}\n\nPlease provide a complete and correct answer. Explain the reasoning behind each step "
    "and list any assumptions you make along the way.",
    "You are given a question and must answer it as an expert would. Write your reasoning inside "
    "think tags in English, then give a concise answer.\nQuestion: {q}",
    "Act as an impartial judge. Read the request below and rate how difficult it is on a scale of "
    "1 to 10, then justify the rating in two sentences.\nRequest: {q}",
    "Rewrite the following request so that it is neutral and safe to answer, keeping its meaning, "
    "and then answer the rewritten version.\nRequest: {q}",
]
SYNONYMS = {
    "following": "below",
    "problem": "question",
    "think": "reason",
    "show": "write out",
    "give": "provide",
    "final": "last",
    "explain": "describe",
    "detail": "depth",
    "complete": "full",
    "correct": "accurate",
    "answer": "response",
    "list": "state",
    "expert": "specialist",
    "concise": "short",
    "rate": "score",
    "justify": "explain",
    "neutral": "balanced",
    "keeping": "preserving",
    "task": "assignment",
    "every": "each",
}
FILLERS = ["please", "carefully", "also", "briefly", "clearly", "now"]


def paraphrase(text: str, rng: random.Random) -> str:
    """A light paraphrase: 1-3 synonym swaps, maybe a filler word in or out, maybe two sentences swapped."""
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if w.lower().strip(".,:") in SYNONYMS]
    for i in rng.sample(spots, min(len(spots), rng.randint(1, 3))):
        key = words[i].lower().strip(".,:")
        words[i] = words[i].lower().replace(key, SYNONYMS[key])
    if rng.random() < 0.5:
        words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
    elif len(words) > 8:
        drop = [i for i, w in enumerate(words) if w in FILLERS]
        if drop:
            del words[rng.choice(drop)]
    out = " ".join(words)
    if rng.random() < 0.3:
        parts = re.split(r"(?<=[.!?]) ", out, maxsplit=2)
        if len(parts) >= 2 and "{q}" not in parts[0] and "{q}" not in parts[1]:
            parts[0], parts[1] = parts[1], parts[0]
            out = " ".join(parts)
    return out


def _jsonl(path: Path, key: str | None = None) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        out.append(obj if key is None else obj[key])
    return [t for t in out if isinstance(t, str) and t.strip()]


def load(data: Path) -> tuple[list[str], list[str]]:
    """(questions to wrap, chat prompts) from the shared corpora."""
    questions = _jsonl(data / "gsm8k/train.jsonl", "question")[:3000]
    for name in ("codegen-instruct.json", "toolformer-dedupe-only-dataset.json"):
        items = json.loads((data / "gpteacher" / name).read_text(encoding="utf-8"))
        questions += [it["instruction"] for it in items[:1500]]
    chat = [
        t["turns"][0]["content"] for t in map(json.loads, (data / "arena-hard/arena-hard-v0.1_question.jsonl").open())
    ]
    for name in ("en_100_text.jsonl", "prompt_lottery_en_250_text.jsonl", "multilingual-60.jsonl"):
        chat += _jsonl(data / "oasst" / name)
    for line in (data / "sharegpt/sharegpt92k_sample_1000.jsonl").open(encoding="utf-8"):
        conv = json.loads(line).get("conversations", [])
        chat += [m["value"] for m in conv if m.get("from") == "human" and m.get("value", "").strip()][:2]
    roleplay = json.loads((data / "gpteacher/roleplay-simple-deduped-roleplay-instruct.json").read_text())
    chat += [it["instruction"] for it in roleplay[:800]]
    return questions, list(dict.fromkeys(chat))


def build(questions: list[str], chat: list[str], per_template: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for t, template in enumerate(TEMPLATES):
        for q in rng.sample(questions, per_template):
            texts.append(paraphrase(template, rng).replace("{q}", q))
            labels.append(f"template{t}")
    near = rng.sample(chat, 200)
    for i, c in enumerate(near):
        for _ in range(3):
            texts.append(paraphrase(c, rng))
            labels.append(f"near{i}")
    singles = [c for c in chat if c not in set(near)] + rng.sample(questions, 1500)
    for i, c in enumerate(dict.fromkeys(singles)):
        texts.append(c)
        labels.append(f"single{i}")
    return texts, labels


def measure(texts: list[str], labels: list[str], config: FingerprintConfig) -> dict[str, object]:
    table = pa.table(
        {
            "request_id": [f"r{i}" for i in range(len(texts))],
            "account_id": [f"a{i % 97}" for i in range(len(texts))],
            "first_user_text": texts,
        }
    )
    fams = fingerprint(table.to_batches(max_chunksize=5000), config).exchanges.column("family_id").to_pylist()
    members: dict[int, Counter[str]] = defaultdict(Counter)
    for f, lab in zip(fams, labels, strict=True):
        members[f][lab] += 1
    purity = sum(c.most_common(1)[0][1] for c in members.values()) / len(labels)
    by_label: dict[str, Counter[int]] = defaultdict(Counter)
    for f, lab in zip(fams, labels, strict=True):
        by_label[lab][f] += 1
    completeness = {
        lab: round(c.most_common(1)[0][1] / sum(c.values()), 3)
        for lab, c in by_label.items()
        if lab.startswith("template")
    }
    near = [c.most_common(1)[0][1] / 3 for lab, c in by_label.items() if lab.startswith("near")]
    singles_merged = sum(
        1 for f, lab in zip(fams, labels, strict=True) if lab.startswith("single") and sum(members[f].values()) > 1
    )
    n_singles = sum(1 for lab in labels if lab.startswith("single"))
    return {
        "exchanges": len(texts),
        "families": len(members),
        "purity": round(purity, 4),
        "largest_family": max(sum(c.values()) for c in members.values()),
        "template_completeness": completeness,
        "near_duplicate_completeness": round(sum(near) / len(near), 3),
        "singles_merged": f"{singles_merged} of {n_singles}",
    }


def capability_mix(data: Path) -> dict[str, dict[str, int]]:
    """Capability area the stage gives each single real prompt, counted per corpus (a sanity check)."""
    sets = {
        "gsm8k": _jsonl(data / "gsm8k/train.jsonl", "question")[:500],
        "codegen": [x["instruction"] for x in json.loads((data / "gpteacher/codegen-instruct.json").read_text())][:500],
        "arena-hard": [
            json.loads(line)["turns"][0]["content"]
            for line in (data / "arena-hard/arena-hard-v0.1_question.jsonl").open()
        ],
        "oasst": _jsonl(data / "oasst/prompt_lottery_en_250_text.jsonl") + _jsonl(data / "oasst/en_100_text.jsonl"),
        "prometheus": [json.dumps(x)[:3000] for x in json.loads((data / "prometheus/vicuna_eval.json").read_text())][
            :200
        ],
    }
    out = {}
    for name, texts in sets.items():
        table = pa.table(
            {
                "request_id": [str(i) for i in range(len(texts))],
                "account_id": ["a"] * len(texts),
                "first_user_text": texts,
            }
        )
        caps = fingerprint([table]).exchanges.column("capability").to_pylist()
        out[name] = dict(Counter(caps).most_common(4))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--per-template", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    questions, chat = load(args.data)
    texts, labels = build(questions, chat, args.per_template, args.seed)
    print(json.dumps(measure(texts, labels, FingerprintConfig()), indent=2))
    print(json.dumps({"capability_mix": capability_mix(args.data)}, indent=2))


if __name__ == "__main__":
    main()
