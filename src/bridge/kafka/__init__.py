"""Kafka plumbing every wing shares: connection settings and security."""
