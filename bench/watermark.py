"""Tracing-watermark benchmark: quality cost, false positives, transfer to a student, robustness, speed.

    python bench/watermark.py                  # everything; real corpora used when ../shared/data exists
    python bench/watermark.py --data DIR       # corpora folder elsewhere
    python bench/watermark.py --quick          # fewer seeds and sizes

Prints Markdown tables (the figures in docs/watermark.md). Everything is seeded; nothing is downloaded.
Generated text comes from tests/watermark_corpus.py (the simulator's TextGen and a slot-dense prose
generator); real text from GSM8K answers, ShareGPT assistant turns and GPTeacher code answers.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
import unicodedata
from pathlib import Path
from random import Random

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from distillguard.watermark import (  # noqa: E402
    StreamMarker,
    UnitCounts,
    account_key,
    detect,
    detect_counts,
    mark_text,
)
from distillguard.watermark.lexicon import SLOTS  # noqa: E402
from distillguard.watermark.student import NgramStudent  # noqa: E402
from watermark_corpus import prose, simulator_answers  # noqa: E402

SECRET = b"bench-provider-secret"
N_KEYS = 1000  # account keys tested together (Bonferroni factor)
KEYS = {f"acct_{i}": account_key(SECRET, f"acct_{i}") for i in range(N_KEYS)}
TRUE = "acct_42"


# ----------------------------------------------------------------------------------------- corpora
def load_real(data: Path) -> dict[str, list[str]]:
    if not data.is_dir():
        return {}
    with (data / "gsm8k" / "train.jsonl").open(encoding="utf-8") as fh:
        gsm = [json.loads(line)["answer"] for line in fh]
    gpt: list[str] = []
    human: list[str] = []
    with (data / "sharegpt" / "sharegpt92k_sample_1000.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            for t in json.loads(line).get("conversations", []):
                (gpt if t.get("from") == "gpt" else human).append(str(t.get("value", "")))
    code = [r["response"] for r in json.loads((data / "gpteacher" / "codegen-instruct.json").read_text())]
    return {"gsm8k answers": gsm, "sharegpt assistant": gpt, "sharegpt user": human, "gpteacher code": code}


def words_changed(a: str, b: str) -> tuple[int, int]:
    wa, wb = a.split(), b.split()
    sm = difflib.SequenceMatcher(a=wa, b=wb, autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"), len(wa)


def table(header: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- quality
_NUM = re.compile(r"\d+(?:\.\d+)?")


def arithmetic_items(n: int, seed: int) -> list[tuple[str, str]]:
    r = Random(seed)
    items = []
    for _ in range(n):
        a, b = r.randint(2, 999), r.randint(2, 999)
        text = (
            f"It is usually easiest to add the parts first. We are adding {a} and {b}, for example by columns: "
            f"{a} + {b} = {a + b}. Moreover, you do not need to carry twice. Therefore the answer is {a + b}."
        )
        items.append((text, str(a + b)))
    return items


def code_items(n: int, seed: int) -> list[str]:
    r = Random(seed)
    out = []
    for _ in range(n):
        a, b = r.randint(1, 50), r.randint(1, 50)
        out.append(
            "It is usually simplest to write a small function, for example this one. You do not need a library.\n"
            "```python\n"
            "def first_or_default(items, default):\n"
            "    # it is usually fine to return the default, for example when you are done\n"
            "    for example in items:\n"
            "        return example\n"
            "    return default\n"
            f"assert first_or_default([{a}, {b}], 0) == {a}\n"
            "assert first_or_default([], 'it is') == 'it is'\n"
            "```\n"
            "Moreover, it is nearly always enough; we are done."
        )
    return out


def quality(real: dict[str, list[str]]) -> str:
    key = KEYS[TRUE]
    corpora = {"simulator answers": simulator_answers(1000, 2), "generated prose (slot-dense)": prose(500, 1)}
    corpora |= {k: v[:2000] for k, v in real.items()}
    rows = []
    for name, texts in corpora.items():
        changed = total = touched = units = 0
        for t in texts:
            m = mark_text(t, key)
            c, w = words_changed(t, m)
            changed, total, touched = changed + c, total + w, touched + (m != t)
        units = len(UnitCounts.collect(texts).sids)
        rows.append([name, len(texts), total, f"{changed / total:.2%}", f"{touched / len(texts):.0%}", units])
    out = [
        "### Quality cost: words changed by marking",
        "",
        table(["corpus", "texts", "words", "words changed", "texts touched", "slot contexts"], rows),
    ]
    # checkable items
    ok_num = 0
    items = arithmetic_items(500, 3)
    for text, ans in items:
        m = mark_text(text, key)
        ok_num += _NUM.findall(m) == _NUM.findall(text) and m.endswith(f"the answer is {ans}.")
    gsm = real.get("gsm8k answers", [])[:2000]
    ok_gsm = sum(
        _NUM.findall(mark_text(t, key)) == _NUM.findall(t)
        and mark_text(t, key).split("####")[-1] == t.split("####")[-1]
        for t in gsm
    )
    ok_code = 0
    codes = code_items(300, 4)
    for text in codes:
        m = mark_text(text, key)
        src = m.split("```python\n")[1].split("```")[0]
        try:
            exec(compile(src, "<item>", "exec"), {})
            ok_code += 1
        except Exception:  # an item that no longer runs is what this counts
            pass
    raw = real.get("gpteacher code", [])[:2000]
    raw_same = sum(mark_text(t, key) == t for t in raw)
    rows = [
        ["arithmetic answers (generated): every number and the final answer unchanged", f"{ok_num}/{len(items)}"],
        ["python items (prose + fenced code with asserts): code still runs", f"{ok_code}/{len(codes)}"],
    ]
    if gsm:
        rows.append(["GSM8K worked answers: every number and the #### answer unchanged", f"{ok_gsm}/{len(gsm)}"])
    if raw:
        rows.append(["GPTeacher code answers (mostly unfenced source): byte-identical", f"{raw_same}/{len(raw)}"])
    out += ["", "### Checkable items after marking", "", table(["check", "passed"], rows)]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- false positives
def false_positives(real: dict[str, list[str]]) -> str:
    corpora = {"simulator answers": simulator_answers(3000, 5), "generated prose": prose(3000, 6)}
    for k in ("gsm8k answers", "sharegpt assistant", "sharegpt user"):
        if k in real:
            corpora[k] = real[k][:3000]
    alphas = (0.001, 0.01, 0.05, 0.1)
    rows = []
    for name, texts in corpora.items():
        p = np.array([detect([t], {"k": account_key(SECRET, f"fp{name}{i}")})[0].p_value for i, t in enumerate(texts)])
        rows.append([f"{name}, one text, own key", len(p)] + [f"{(p <= a).mean():.4f}" for a in alphas])
        sets = [texts[i : i + 30] for i in range(0, len(texts), 30)]
        ps = []
        for j, s in enumerate(sets):
            uc = UnitCounts.collect(s)
            ps += [
                d.p_value
                for d in detect_counts(uc, {f"{j}_{i}": account_key(SECRET, f"set{name}{j}_{i}") for i in range(20)})
            ]
        p = np.array(ps)
        rows.append([f"{name}, sets of 30 texts, 20 keys each", len(p)] + [f"{(p <= a).mean():.4f}" for a in alphas])
    out = [
        "### False-positive rate on unmarked text (share of tests with p <= alpha)",
        "",
        table(["texts tested", "tests"] + [f"alpha={a:g}" for a in alphas], rows),
    ]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- transfer
def transfer(real: dict[str, list[str]], quick: bool) -> str:
    teachers = {"simulator answers": simulator_answers(3000, 7)}
    if "sharegpt assistant" in real:
        teachers["sharegpt assistant answers"] = real["sharegpt assistant"]
    sizes = (4, 8, 16, 32, 64, 128, 256) if not quick else (4, 16, 64)
    seeds = range(5 if not quick else 2)
    out = [
        "### Proof of transfer: trigram student trained on harvested outputs",
        "",
        f"Detection: true key among {N_KEYS} account keys, Bonferroni-adjusted p < 1e-6. "
        "Median over seeds of student tokens and adjusted p-value; 'rate' = share of seeds detected.",
    ]
    for name, teacher in teachers.items():
        rows = []
        for frac in (1.0, 0.5, 0.1, 0.0):
            r = Random(11)
            marked_idx = set(r.sample(range(len(teacher)), int(frac * len(teacher))))
            corpus = [mark_text(t, KEYS[TRUE]) if i in marked_idx else t for i, t in enumerate(teacher)]
            t0 = time.perf_counter()
            student = NgramStudent(order=3).fit(corpus)
            fit_s = time.perf_counter() - t0
            for n in sizes:
                toks, padj, hit, others = [], [], 0, 0
                for seed in seeds:
                    gens = student.generate(n, seed=seed, max_words=250)
                    toks.append(sum(len(g.split()) for g in gens))
                    found = detect(gens, KEYS)
                    true = next(d for d in found if d.key_id == TRUE)
                    padj.append(true.p_adjusted)
                    hit += true.detected
                    others += sum(d.detected for d in found if d.key_id != TRUE)
                rows.append(
                    [
                        f"{frac:.0%}",
                        n,
                        int(np.median(toks)),
                        f"{np.median(padj):.1e}",
                        f"{hit}/{len(seeds)}",
                        others,
                        f"{fit_s:.0f}s",
                    ]
                )
        out += [
            "",
            f"Teacher outputs: {name} ({len(teacher)} texts, {student.tokens} tokens).",
            "",
            table(
                [
                    "marked share of training data",
                    "student samples",
                    "student tokens",
                    "adjusted p (true key)",
                    "rate",
                    "other keys detected",
                    "fit",
                ],
                rows,
            ),
        ]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- robustness
def _paraphrase(text: str, q: float, r: Random, vocab: list[str]) -> str:
    """Each plain word (slot words included) replaced by a random corpus word with probability q."""
    words = text.split(" ")
    return " ".join(r.choice(vocab) if w.isalpha() and r.random() < q else w for w in words)


def _reorder(text: str, r: Random) -> str:
    sents = re.split(r"(?<=[.!?])\s+", text)
    r.shuffle(sents)
    return " ".join(sents)


def _expand(text: str) -> str:
    for s in SLOTS:
        short = [v for v in s.variants if "'" in v]
        if short:
            text = re.sub(rf"\b{re.escape(short[0])}\b", s.variants[0], text)
            text = re.sub(rf"\b{re.escape(short[0].capitalize())}\b", s.variants[0].capitalize(), text)
    return text


def _normalise(text: str) -> str:
    """A lexicon-aware attacker: every slot rewritten to its first variant."""
    for s in SLOTS:
        for v in s.variants[1:]:
            text = re.sub(rf"\b{re.escape(v)}\b", s.variants[0], text)
            text = re.sub(rf"\b{re.escape(v.capitalize())}\b", s.variants[0].capitalize(), text)
    return text


def robustness(real: dict[str, list[str]]) -> str:
    pool = real.get("sharegpt assistant") or simulator_answers(2000, 8)
    r = Random(12)
    rng_texts = [t for t in pool if 300 < len(t.split()) < 600]
    marked_src = r.sample(rng_texts, 12)
    clean = r.sample([t for t in pool if t not in marked_src], 108)
    rest = r.sample([t for t in pool if t not in marked_src], min(1500, len(pool) - 12))
    big_marked = [mark_text(t, KEYS[TRUE]) for t in rest[:150]]
    big_clean = rest[150:]
    key = KEYS[TRUE]
    marked = [mark_text(t, key) for t in marked_src]
    vocab = [w for t in clean for w in t.split(" ") if w.isalpha()]
    ws = lambda t: " ".join(t.split())  # noqa: E731
    cases = {
        "none": marked,
        "re-tokenised: whitespace and line breaks collapsed": [ws(t) for t in marked],
        "re-tokenised: NFKC + curly apostrophes": [unicodedata.normalize("NFKC", t).replace("'", "’") for t in marked],
        "re-tokenised: lower-cased": [t.lower() for t in marked],
        "light paraphrase: 10% of words replaced": [
            _paraphrase(t, 0.1, Random(i), vocab) for i, t in enumerate(marked)
        ],
        "paraphrase: 30% of words replaced": [_paraphrase(t, 0.3, Random(i), vocab) for i, t in enumerate(marked)],
        "sentences shuffled": [_reorder(t, Random(i)) for i, t in enumerate(marked)],
        "truncated to the first 50%": [" ".join(t.split(" ")[: len(t.split(" ")) // 2]) for t in marked],
        "truncated to the first 25%": [" ".join(t.split(" ")[: len(t.split(" ")) // 4]) for t in marked],
        "diluted: 10% marked, 90% unmarked (12 + 108 texts)": marked + clean,
        f"diluted: 10% marked, 90% unmarked ({len(big_marked)} + {len(big_clean)} texts)": big_marked + big_clean,
        "the same + 10% paraphrase + whitespace collapse": [
            ws(_paraphrase(t, 0.1, Random(i), vocab)) for i, t in enumerate(big_marked)
        ]
        + big_clean,
        "attack: every contraction expanded": [_expand(t) for t in marked],
        "attack: every slot normalised (lexicon known)": [_normalise(t) for t in marked],
    }
    rows = []
    for name, texts in cases.items():
        found = detect(texts, KEYS)
        true = next(d for d in found if d.key_id == TRUE)
        toks = sum(len(t.split()) for t in texts)
        rows.append(
            [
                name,
                toks,
                true.units,
                true.agree,
                f"{true.z:.1f}",
                f"{true.p_adjusted:.1e}",
                "yes" if true.detected else "no",
                sum(d.detected for d in found if d.key_id != TRUE),
            ]
        )
    src = "ShareGPT assistant answers" if real else "simulator answers"
    return "\n".join(
        [
            "### Robustness (12 marked answers of 300-600 words from " + src + f"; {N_KEYS} keys)",
            "",
            table(
                ["transformation", "tokens", "units", "agree", "z", "adjusted p", "detected", "other keys detected"],
                rows,
            ),
        ]
    )


# ----------------------------------------------------------------------------------------- speed
def speed() -> str:
    texts = simulator_answers(2000, 9, chars=2000)
    mb = sum(len(t.encode()) for t in texts) / 2**20
    key = KEYS[TRUE]
    t0 = time.perf_counter()
    for t in texts:
        mark_text(t, key)
    whole = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in texts:
        sm = StreamMarker(key)
        for i in range(0, len(t), 12):
            sm.feed(t[i : i + 12])
        sm.flush()
    stream = time.perf_counter() - t0
    t0 = time.perf_counter()
    uc = UnitCounts.collect(texts)
    scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    detect_counts(uc, KEYS)
    keys_s = time.perf_counter() - t0
    rows = [
        ["mark_text", f"{mb / whole:.2f} MiB/s", f"{whole / len(texts) * 1e3:.2f} ms per 2 kB answer"],
        ["StreamMarker, 12-character deltas", f"{mb / stream:.2f} MiB/s", f"{stream / len(texts) * 1e3:.2f} ms"],
        ["detect: scan", f"{mb / scan:.2f} MiB/s", f"{len(uc.sids)} slot contexts"],
        [f"detect: exact null + {N_KEYS} keys", f"{keys_s:.2f} s", f"{keys_s / N_KEYS * 1e3:.2f} ms per key"],
    ]
    return "\n".join(["### Speed (one core)", "", table(["step", "throughput", "note"], rows)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("quality", "fpr", "transfer", "robustness", "speed"))
    args = ap.parse_args()
    real = load_real(args.data)
    print(f"real corpora: {', '.join(real) if real else 'absent (generated text only)'}\n")
    sections = {
        "quality": lambda: quality(real),
        "fpr": lambda: false_positives(real),
        "transfer": lambda: transfer(real, args.quick),
        "robustness": lambda: robustness(real),
        "speed": speed,
    }
    for name, fn in sections.items():
        if args.only in (None, name):
            t0 = time.perf_counter()
            print(fn())
            print(f"\n({name}: {time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
