"""Use cases: what the handlers call (strategies, a run, a tick, the portfolio read model)."""
