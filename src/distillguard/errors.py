"""The one error root. Everything distillguard raises on purpose derives from DistillguardError."""

from __future__ import annotations


class DistillguardError(Exception):
    """Root of every error distillguard raises deliberately."""


class InputError(DistillguardError):
    """Input that cannot be read at all (missing path, unreadable file, unknown format)."""


class ConfigError(DistillguardError):
    """An invalid configuration, scenario or policy file; the message names file, key and reason."""


class StoreError(DistillguardError):
    """The store cannot be opened or is of an incompatible schema version."""


class RecordError(DistillguardError):
    """One input record is invalid. Caught by ingest and turned into a quarantine row, never fatal."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
