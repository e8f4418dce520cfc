"""Hypothesis strategies of the object-storage tests: valid keys and metadata values."""

from __future__ import annotations

from hypothesis import strategies as st

SEGMENT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._=-]{0,20}", fullmatch=True)

METADATA_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)
"""Any text a metadata value may hold: Vietnamese, blanks at the ends, '%', control characters."""


def keys() -> st.SearchStrategy[str]:
    """Keys the stores accept: 1 to 5 segments of the allowed characters."""
    return st.lists(SEGMENT, min_size=1, max_size=5).map("/".join)
