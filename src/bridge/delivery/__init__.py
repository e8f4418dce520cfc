"""Case-state events to citizens: consume, dispatch, deliver once, settle, dead-letter."""

from bridge.delivery.breaker_probe import BreakerProber, OaProfileReader
from bridge.delivery.cascade import CascadeConfig, cascade_config, may_reach
from bridge.delivery.consumer import lenient_parser, register_consumer, to_inbound_record
from bridge.delivery.dead_letter import dead_letter_headers
from bridge.delivery.deliverer import (
    CitizenDirectory,
    Deliverer,
    DeliveryPolicy,
    EmptyDirectory,
    MessageRenderer,
    MessageSender,
    RateLimiter,
)
from bridge.delivery.dispatch import Dispatcher
from bridge.delivery.flow import BreakerState, CircuitBreaker, FlowControl, oa_rate_limiter
from bridge.delivery.ledger import Ledger
from bridge.delivery.ledger_stores import open_ledger
from bridge.delivery.outbox import OutboundRecord, TransactionalPublisher, outputs_for
from bridge.delivery.pacing import PacedSender, ReplyBudget
from bridge.delivery.records import DeliveryOutcome, InboundRecord
from bridge.delivery.replay import (
    DeadLetterRecord,
    InvalidSelectionError,
    ReplayCriteria,
    ReplayError,
    ReplaySummary,
    list_dead_letters,
    parse_time,
    replay_dead_letters,
)
from bridge.delivery.settings import (
    CascadeChannel,
    CascadeRoute,
    CascadeSettings,
    DeliveryConfig,
    DeliverySettings,
)
from bridge.delivery.watchdog import ProgressWatchdog

__all__ = [
    "BreakerProber",
    "BreakerState",
    "CascadeChannel",
    "CascadeConfig",
    "CascadeRoute",
    "CascadeSettings",
    "CircuitBreaker",
    "CitizenDirectory",
    "DeadLetterRecord",
    "Deliverer",
    "DeliveryConfig",
    "DeliveryOutcome",
    "DeliveryPolicy",
    "DeliverySettings",
    "Dispatcher",
    "EmptyDirectory",
    "FlowControl",
    "InboundRecord",
    "InvalidSelectionError",
    "Ledger",
    "MessageRenderer",
    "MessageSender",
    "OaProfileReader",
    "OutboundRecord",
    "PacedSender",
    "ProgressWatchdog",
    "RateLimiter",
    "ReplayCriteria",
    "ReplayError",
    "ReplaySummary",
    "ReplyBudget",
    "TransactionalPublisher",
    "cascade_config",
    "dead_letter_headers",
    "lenient_parser",
    "list_dead_letters",
    "may_reach",
    "oa_rate_limiter",
    "open_ledger",
    "outputs_for",
    "parse_time",
    "register_consumer",
    "replay_dead_letters",
    "to_inbound_record",
]
