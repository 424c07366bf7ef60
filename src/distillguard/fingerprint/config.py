"""Configuration of the fingerprint stage: one frozen object, validated once."""

from __future__ import annotations

from dataclasses import dataclass

from distillguard.errors import ConfigError


@dataclass(frozen=True)
class FingerprintConfig:
    """Knobs of template-family clustering and classification.

    MinHash: ``num_perm`` permutations, split into ``bands`` bands of ``num_perm // bands`` rows for
    LSH. A candidate pair joins one family only when its estimated Jaccard similarity is at least
    ``threshold``. ``shingle_size`` words per shingle for the whole-skeleton view.

    A family is classified once, on the texts of up to ``representatives`` of its skeletons (each
    capped to ``cue_cap`` characters, head and tail) and on structural shares over all its exchanges.

    The *template view* catches a fixed wrapper around varying free text (an instruction around a
    different question each time): shingles seen in at least ``template_min_df`` distinct skeletons
    that form runs of at least ``template_min_run`` consecutive shingles are the template part; two
    skeletons whose template parts have Jaccard >= ``template_threshold`` join one family. Only the
    first and last ``template_window`` shingles of each skeleton are kept for it (instructions sit at
    the head or the tail of a prompt), which bounds its memory. A whole-skeleton match is vetoed when both
    skeletons have a template part and those agree less than ``template_veto``.

    Pairs above ``threshold`` / ``template_threshold`` only *propose* families; a skeleton joins a
    family when it is similar to the family's representative: ``join_threshold`` (whole text) or
    ``template_join_threshold`` (template parts). Families cannot chain; a lower join threshold
    admits more paraphrase around the representative and widens the bound on a family's diameter.
    """

    num_perm: int = 64
    bands: int = 21
    threshold: float = 0.5
    shingle_size: int = 2
    seed: int = 20260226
    text_cap: int = 800
    example_cap: int = 300
    cue_cap: int = 600
    mask_cache_size: int = 200_000
    template_view: bool = True
    template_shingle_size: int = 3
    template_min_df: int = 3
    template_min_run: int = 6
    template_window: int = 16
    template_threshold: float = 0.5
    template_veto: float = 0.5
    join_threshold: float = 0.4
    template_join_threshold: float = 0.3
    representatives: int = 3
    flag_share: float = 0.5
    capability_min_score: float = 0.5

    def __post_init__(self) -> None:
        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"FingerprintConfig.{key}: {why}")

        if self.num_perm < 8:
            raise bad("num_perm", f"must be >= 8, got {self.num_perm}")
        if not 1 <= self.bands <= self.num_perm:
            raise bad("bands", f"must be in 1..num_perm ({self.num_perm}), got {self.bands}")
        for key in (
            "threshold",
            "template_threshold",
            "template_veto",
            "join_threshold",
            "template_join_threshold",
            "flag_share",
            "capability_min_score",
        ):
            value = getattr(self, key)
            if not 0.0 < value <= 1.0:
                raise bad(key, f"must be in (0, 1], got {value}")
        for key in ("shingle_size", "template_shingle_size", "template_min_df", "template_min_run"):
            if getattr(self, key) < 1:
                raise bad(key, f"must be >= 1, got {getattr(self, key)}")
        if self.text_cap < 16 or self.example_cap < 16 or self.cue_cap < 16:
            raise bad("text_cap", "text_cap and example_cap must be >= 16")
        if self.mask_cache_size < 1024:
            raise bad("mask_cache_size", f"must be >= 1024, got {self.mask_cache_size}")
        if self.representatives < 1:
            raise bad("representatives", f"must be >= 1, got {self.representatives}")
        if self.template_window < self.template_min_run:
            raise bad("template_window", "must be >= template_min_run")

    @property
    def rows(self) -> int:
        """MinHash rows per LSH band."""
        return self.num_perm // self.bands
