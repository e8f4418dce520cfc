"""The managed OA token as metrics: refresh outcomes, health, a failing refresh."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.observability.metrics import flag, with_zeros

if TYPE_CHECKING:
    from bridge.observability.metrics import Metrics
    from bridge.zalo.managed_token import ManagedToken

__all__ = ["watch_tokens"]

TOKEN_OUTCOMES = ("refreshed", "adopted", "failed")


def watch_tokens(metrics: Metrics, tokens: ManagedToken) -> None:
    """Register the managed token's refresh outcomes, health and failing refresh."""
    metrics.watch_counter(
        "token_refreshes",
        "Refresh rounds of the managed OA token: refreshed (a refresh token was spent), "
        "adopted (another replica's new pair was taken), failed.",
        lambda: with_zeros(tokens.outcomes, TOKEN_OUTCOMES),
        ["outcome"],
    )
    metrics.watch_gauge(
        "token_healthy",
        "1 while a usable OA access token is at hand, else 0 (delivery is paused).",
        lambda: flag(tokens.healthy),
    )
    metrics.watch_gauge(
        "token_refresh_failing",
        "1 while the last refresh attempt of the OA token failed, else 0.",
        lambda: flag(tokens.refresh_failing),
    )
