"""Alarm engine: streaming rules on readings and events, lifecycle, thresholds. Pure domain."""
