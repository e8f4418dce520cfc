"""Case-state events to citizens: consume, dispatch, deliver once, settle, dead-letter."""
