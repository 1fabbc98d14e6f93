"""Domain models (pydantic): strategies, deployments, trades, accounts, execution logs, portfolios."""
