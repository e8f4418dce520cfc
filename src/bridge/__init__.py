"""bridge: Kafka case-state events of a one-stop-shop system, delivered to citizens through Zalo OA."""

__version__ = "0.1.0"
