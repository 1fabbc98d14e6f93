"""DynamoDB storage: repositories for strategies, logs, trades, accounts, portfolios (the only boto3 user)."""

from __future__ import annotations

from engine.storage.pages import Page

__all__ = ["Page"]
