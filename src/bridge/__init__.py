"""bridge: one-stop-shop case-state events from Kafka, delivered to citizens through Zalo OA."""

__version__ = "0.1.0"

__all__ = ["__version__"]
