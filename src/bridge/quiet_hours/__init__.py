"""Quiet hours: hold non-urgent notifications at night, release them in the morning."""
