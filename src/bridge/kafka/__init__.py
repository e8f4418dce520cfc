"""Kafka plumbing every wing shares: connection settings and security."""

from bridge.kafka.security import broker_security, client_options, verify_login
from bridge.kafka.settings import KafkaSettings

__all__ = [
    "KafkaSettings",
    "broker_security",
    "client_options",
    "verify_login",
]
