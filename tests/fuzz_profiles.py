"""Hypothesis profiles of the property tests: ``bounded`` in `make test`, ``fuzz`` in `make fuzz`.

``bounded`` (the default) runs few examples, derandomized: every run on any machine tries the
same examples (derandomize implies no example database), so `make test` is deterministic.
``fuzz`` (``HYPOTHESIS_PROFILE=fuzz``, what `make fuzz` sets) runs ``FUZZ_SCALE`` times as many,
at random, and keeps failing examples in ``.cache/hypothesis`` (gitignored), so the next run
tries them first. Neither has a deadline: timing on a shared machine is no property of the code.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

__all__ = ["BOUNDED_EXAMPLES", "FUZZ_SCALE", "examples", "fuzzing", "load"]

BOUNDED_EXAMPLES = 100
FUZZ_SCALE = 50
DATABASE = Path(__file__).resolve().parents[1] / ".cache" / "hypothesis"


def fuzzing() -> bool:
    """Whether this run is `make fuzz`."""
    return os.environ.get("HYPOTHESIS_PROFILE", "bounded") == "fuzz"


def examples(bounded: int) -> int:
    """How many examples a costly property runs: ``bounded`` in `make test`, more when fuzzing."""
    return bounded * FUZZ_SCALE if fuzzing() else bounded


def load() -> None:
    """Register both profiles and load the one ``HYPOTHESIS_PROFILE`` names (``bounded``)."""
    common = {"deadline": None, "print_blob": True, "suppress_health_check": [HealthCheck.too_slow]}
    settings.register_profile("bounded", max_examples=BOUNDED_EXAMPLES, derandomize=True, **common)
    settings.register_profile(
        "fuzz",
        max_examples=BOUNDED_EXAMPLES * FUZZ_SCALE,
        database=DirectoryBasedExampleDatabase(DATABASE),
        **common,
    )
    settings.load_profile("fuzz" if fuzzing() else "bounded")
