"""Test-session settings shared by every test module.

Property tests (hypothesis) run a fixed, derandomized set of examples by default, so a run of the suite
(CI included) is reproducible: a failure is a regression, never a new random draw. Exploration with fresh
random examples is one environment variable away:

    DG_HYPOTHESIS=explore .venv/bin/python -m pytest tests/test_fingerprint_mask.py

Exploration is how the known corner cases of ``mask`` idempotence were found (see ``distillguard.text.mask``).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("DG_HYPOTHESIS") == "explore" else "fixed")
