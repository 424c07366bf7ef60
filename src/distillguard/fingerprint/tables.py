"""Arrow schemas of the fingerprint stage's outputs and the assembly of the families table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.fingerprint.config import FingerprintConfig
from distillguard.fingerprint.cues import AREAS, FLAGS, STRUCT
from distillguard.fingerprint.registry import SkeletonSet
from distillguard.schema import TS

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

EXCHANGE_FP = pa.schema(
    [
        pa.field("request_id", pa.string()),
        pa.field("family_id", pa.int64(), nullable=False),
        pa.field("system_family_id", pa.int64()),
        pa.field("user_family_id", pa.int64(), nullable=False),
        pa.field("capability", pa.string()),
        *(pa.field(f, pa.bool_()) for f in FLAGS),
    ]
)
"""One row per input exchange, in input order."""

CAPABILITY_SCORES = pa.struct([pa.field(a, pa.float32()) for a in AREAS])
STRUCTURES = ("exact", "near", "wrapper")
"""How a family's user skeletons were grouped: one skeleton, near-duplicate MinHash merge, or a shared
instruction wrapper around varying text (template view)."""

FAMILIES = pa.schema(
    [
        pa.field("family_id", pa.int64(), nullable=False),
        pa.field("system_family_id", pa.int64()),
        pa.field("user_family_id", pa.int64()),
        pa.field("n_exchanges", pa.int64()),
        pa.field("n_accounts", pa.int64()),
        pa.field("capability", pa.string()),
        pa.field("capability_scores", CAPABILITY_SCORES),
        *(pa.field(f, pa.float64()) for f in FLAGS),
        *(pa.field(f"{s}_share", pa.float64()) for s in STRUCT),
        pa.field("structure", pa.string()),
        pa.field("example_skeleton", pa.string()),
        pa.field("signature", pa.list_(pa.uint32())),
        pa.field("first_seen", TS),
        pa.field("last_seen", TS),
    ]
)
"""One row per (system family, user family) combination, largest first."""


@dataclass(frozen=True)
class FamilyInputs:
    """Everything the families table is built from (per-exchange arrays are aligned)."""

    fams: I64  # sorted unique family ids
    first: I64  # index of each family's earliest exchange (ts, then skeleton ids: see stage.earliest)
    inv: I64  # family index per exchange
    account: I64
    ts: I64
    ts_null: int
    sys_ids: I64
    usr_ids: I64
    sys_fam: I64
    usr_fam: I64
    has_sys: npt.NDArray[np.bool_]
    usr_structure: npt.NDArray[np.int8]
    system: SkeletonSet
    user: SkeletonSet
    cue_share: dict[str, F64]
    st_share: dict[str, F64]
    scores: dict[str, F64]
    area: I64


def _seen(inp: FamilyInputs) -> tuple[I64, I64, npt.NDArray[np.bool_]]:
    """First and last timestamp per family, and which families have none."""
    valid = inp.ts != inp.ts_null
    k = len(inp.fams)
    lo = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(k, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(lo, inp.inv[valid], inp.ts[valid])
    np.maximum.at(hi, inp.inv[valid], inp.ts[valid])
    return lo, hi, np.bincount(inp.inv[valid], minlength=k) == 0


def _labels(codes: I64, names: tuple[str, ...]) -> pa.Array:
    """Strings from small integer codes, without one Python string per row."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(names)).cast(pa.string())


def _examples(inp: FamilyInputs, first: I64, config: FingerprintConfig) -> pa.Array:
    """``[system] <skeleton> [user] <skeleton>`` (or the user skeleton alone), capped; built in Arrow."""
    s_ex = inp.system.text_array(inp.sys_ids[first])
    u_ex = pc.fill_null(inp.user.text_array(inp.usr_ids[first]), "")
    both = pc.binary_join_element_wise("[system] ", s_ex, " [user] ", u_ex, "")
    text = pc.if_else(pc.is_null(s_ex), u_ex, both)
    return pc.utf8_slice_codeunits(text, 0, config.example_cap)


def _signatures(inp: FamilyInputs, first: I64) -> pa.Array:
    """MinHash of the representative's user skeleton (its system skeleton when the user turn is blank)."""
    u_sig, s_sig = inp.user.signatures(), inp.system.signatures()
    num_perm = max(u_sig.shape[1], s_sig.shape[1])
    si, ui = inp.sys_ids[first], inp.usr_ids[first]
    has_u, has_s = ui >= 0, (ui < 0) & (si >= 0)
    present = has_u | has_s
    values = np.empty((int(present.sum()), num_perm), dtype=np.uint32)  # one copy, handed to Arrow as is
    if has_s.any():
        values[has_u[present]] = u_sig[ui[has_u]]
        values[has_s[present]] = s_sig[si[has_s]]
    else:  # the usual case: gather straight into the output, no temporary copy
        np.take(u_sig, ui[has_u], axis=0, out=values)
    offsets = np.zeros(len(ui) + 1, dtype=np.int32)
    np.cumsum(np.where(present, num_perm, 0), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.ravel(), type=pa.uint32()))


def family_table(inp: FamilyInputs, config: FingerprintConfig) -> pa.Table:
    """One row per family, largest first (ties by id); every column built directly in that order."""
    k = len(inp.fams)
    n_ex = np.bincount(inp.inv, minlength=k)
    order = np.lexsort((inp.fams, -n_ex))
    first = inp.first[order]
    n_acc_total = int(inp.account.max()) + 1 if len(inp.account) else 1
    pairs = np.unique(inp.inv * n_acc_total + inp.account)
    n_acc = np.bincount(pairs // n_acc_total, minlength=k)
    scores = pa.StructArray.from_arrays(
        [pa.array(inp.scores[a][order].astype(np.float32)) for a in AREAS], fields=list(CAPABILITY_SCORES)
    )
    rep_u = inp.usr_ids[first]
    structure = (
        np.where(rep_u >= 0, inp.usr_structure[np.where(rep_u >= 0, rep_u, 0)], 0)
        if len(inp.usr_structure)
        else np.zeros(k, dtype=np.int8)
    )
    lo, hi, none = _seen(inp)
    has_sys = inp.has_sys[first]
    return pa.Table.from_arrays(
        [
            pa.array(inp.fams[order]),
            pa.array(inp.sys_fam[first], mask=~has_sys),
            pa.array(inp.usr_fam[first]),
            pa.array(n_ex[order].astype(np.int64)),
            pa.array(n_acc[order].astype(np.int64)),
            _labels(inp.area[order], AREAS),
            scores,
            *(pa.array(inp.cue_share[f][order]) for f in FLAGS),
            *(pa.array(inp.st_share[s][order]) for s in STRUCT),
            _labels(structure.astype(np.int64), STRUCTURES),
            _examples(inp, first, config),
            _signatures(inp, first),
            pa.array(lo[order], mask=none[order]).cast(TS),
            pa.array(hi[order], mask=none[order]).cast(TS),
        ],
        schema=FAMILIES,
    )
