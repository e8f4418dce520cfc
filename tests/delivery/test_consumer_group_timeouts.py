"""The group waits for a member that drains revoked partitions: no commit after it was dropped."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.delivery.consumer import register_consumer, revoke_grace_seconds
from bridge.delivery.flow import FlowControl
from bridge.settings import load_settings


@settings(max_examples=25, deadline=None)
@given(
    lease=st.floats(min_value=14, max_value=600),
    max_poll_ms=st.integers(min_value=10_000, max_value=900_000),
)
def test_the_rebalance_timeout_outlasts_the_revoke_grace(lease, max_poll_ms):
    config = load_settings(
        delivery={
            "lease_seconds": lease,
            "attempt_budget_seconds": max_poll_ms / 2000,
            "watchdog_stall_seconds": 0,  # its own bound on the lease is checked elsewhere
        },
        kafka={"max_poll_interval_ms": max_poll_ms},
        quiet_hours={"enabled": False},  # its release lease has a check of its own
    )
    broker = KafkaBroker(config.kafka.bootstrap_servers)
    register_consumer(broker, config, dispatcher=lambda: None, flow=FlowControl())
    (subscriber,) = broker.subscribers
    consumer = subscriber._connection_args
    grace_ms = revoke_grace_seconds(config) * 1000
    # Twice the grace: the drain, then the commit of what settled, then the rejoin.
    assert consumer["rebalance_timeout_ms"] >= 2 * grace_ms
    assert consumer["max_poll_interval_ms"] == max_poll_ms
