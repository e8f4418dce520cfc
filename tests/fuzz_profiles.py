"""How many examples a costly property runs under the active Hypothesis profile.

The profiles themselves live in tests/conftest.py: ``ci`` (bounded, derandomized) in `make test`,
``fuzz`` (``HYPOTHESIS_PROFILE=fuzz``, what `make fuzz` sets) with many more examples.
"""

from __future__ import annotations

import os

__all__ = ["FUZZ_SCALE", "examples", "fuzzing"]

FUZZ_SCALE = 33
"""``fuzz`` runs about this many times the examples of ``ci`` (5,000 against 150)."""


def fuzzing() -> bool:
    """Whether this run is `make fuzz`."""
    return os.environ.get("HYPOTHESIS_PROFILE", "ci") == "fuzz"


def examples(bounded: int) -> int:
    """How many examples a costly property runs: ``bounded`` in `make test`, more when fuzzing."""
    return bounded * FUZZ_SCALE if fuzzing() else bounded
