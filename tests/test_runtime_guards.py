"""What the watchdog counts as holding back on purpose, as the runtime wires it."""

from __future__ import annotations

from bridge.app import Runtime
from bridge.delivery.flow import CircuitBreaker
from bridge.settings import load_settings


class Tokens:
    def __init__(self) -> None:
        self.healthy = True


def runtime() -> Runtime:
    built = Runtime(load_settings())
    built.breaker = CircuitBreaker(failure_threshold=1, open_seconds=5, max_open_seconds=60)
    return built


def test_a_full_in_flight_window_is_not_holding_back():
    """A stall fills the window: counting it as a hold would hide every stall."""
    built = runtime()
    built.flow.hold("in_flight_window_full", on=True)
    assert built.held_back() is None


def test_the_breaker_the_token_and_deliberate_holds_are():
    built = runtime()
    tokens = built.tokens = Tokens()  # type: ignore[assignment]
    assert built.held_back() is None
    assert built.breaker is not None
    built.breaker.trip("Zalo error -204")
    assert built.held_back() == "circuit_breaker"
    built.breaker.success()
    tokens.healthy = False
    assert built.held_back() == "token"
    tokens.healthy = True
    built.flow.hold("maintenance", on=True)
    assert built.held_back() == "maintenance"
