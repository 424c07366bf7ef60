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
class FamilyRows:
    """Everything the families table is built from, one entry per family (ascending ``fams``)."""

    fams: I64  # sorted unique family ids
    n_ex: I64
    n_acc: I64
    lo: pa.Array | pa.ChunkedArray  # first and last timestamp (microseconds; null when the family has none)
    hi: pa.Array | pa.ChunkedArray
    first_sys: I64  # skeleton ids of the family's earliest exchange (-1: none)
    first_usr: I64
    sys_fam: pa.Array | pa.ChunkedArray  # its system family (null: no system prompt) and user family
    usr_fam: I64
    usr_structure: npt.NDArray[np.int8]
    system: SkeletonSet
    user: SkeletonSet
    cue_share: dict[str, F64]
    st_share: dict[str, F64]
    scores: dict[str, F64]
    area: I64


def _labels(codes: I64, names: tuple[str, ...]) -> pa.Array:
    """Strings from small integer codes, without one Python string per row."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(names)).cast(pa.string())


def _examples(rows: FamilyRows, si: I64, ui: I64, config: FingerprintConfig) -> pa.Array:
    """``[system] <skeleton> [user] <skeleton>`` (or the user skeleton alone), capped; built in Arrow."""
    s_ex = rows.system.text_array(si)
    u_ex = pc.fill_null(rows.user.text_array(ui), "")
    both = pc.binary_join_element_wise("[system] ", s_ex, " [user] ", u_ex, "")
    text = pc.if_else(pc.is_null(s_ex), u_ex, both)
    return pc.utf8_slice_codeunits(text, 0, config.example_cap)


def _signatures(rows: FamilyRows, si: I64, ui: I64) -> pa.Array:
    """MinHash of the representative's user skeleton (its system skeleton when the user turn is blank)."""
    has_u, has_s = ui >= 0, (ui < 0) & (si >= 0)
    present = has_u | has_s
    u_sig = rows.user.signatures(ui[has_u])
    if has_s.any():
        s_sig = rows.system.signatures(si[has_s])
        values = np.empty((int(present.sum()), max(u_sig.shape[1], s_sig.shape[1])), dtype=np.uint32)
        values[has_u[present]] = u_sig
        values[has_s[present]] = s_sig
    else:  # the usual case: the user skeletons' rows are the output
        values = u_sig
    offsets = np.zeros(len(ui) + 1, dtype=np.int32)
    np.cumsum(np.where(present, values.shape[1], 0), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.ravel(), type=pa.uint32()))


def family_table(rows: FamilyRows, config: FingerprintConfig) -> pa.Table:
    """One row per family, largest first (ties by id); every column built directly in that order."""
    k = len(rows.fams)
    order = np.lexsort((rows.fams, -rows.n_ex))
    take = pa.array(order)
    scores = pa.StructArray.from_arrays(
        [pa.array(rows.scores[a][order].astype(np.float32)) for a in AREAS], fields=list(CAPABILITY_SCORES)
    )
    si, ui = rows.first_sys[order], rows.first_usr[order]
    structure = (
        np.where(ui >= 0, rows.usr_structure[np.where(ui >= 0, ui, 0)], 0)
        if len(rows.usr_structure)
        else np.zeros(k, dtype=np.int8)
    )
    return pa.Table.from_arrays(
        [
            pa.array(rows.fams[order]),
            rows.sys_fam.take(take).cast(pa.int64()),
            pa.array(rows.usr_fam[order]),
            pa.array(rows.n_ex[order]),
            pa.array(rows.n_acc[order]),
            _labels(rows.area[order], AREAS),
            scores,
            *(pa.array(rows.cue_share[f][order]) for f in FLAGS),
            *(pa.array(rows.st_share[s][order]) for s in STRUCT),
            _labels(structure.astype(np.int64), STRUCTURES),
            _examples(rows, si, ui, config),
            _signatures(rows, si, ui),
            rows.lo.take(take).cast(pa.int64()).cast(TS),
            rows.hi.take(take).cast(pa.int64()).cast(TS),
        ],
        schema=FAMILIES,
    )
