"""distillguard: detect and stop distillation attacks against an LLM API.

Stages (one package each, imports flow one way, top to bottom):

    ingest -> fingerprint -> features -> linking -> scoring -> policy
    store (DuckDB edge), simulate / evaluate (ground truth, never imported by the detector)

``distillguard.pipeline`` is the only module that knows the stage order; ``distillguard.cli`` is a
thin shell over the public API.
"""

from distillguard.errors import DistillguardError

__version__ = "0.1.0"

__all__ = ["DistillguardError", "__version__"]
