"""Autopilot engine: the domain shared by every function (knows nothing of HTTP or Lambda)."""
