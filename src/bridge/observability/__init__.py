"""What operators see of a running bridge: logs, masked personal data, metrics."""
