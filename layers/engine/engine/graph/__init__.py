"""The strategy's node graph: checks on save and deploy (validate) and one run of it (runner)."""
