"""Backtesting: replaying the past through the live run path (DESIGN 9)."""
