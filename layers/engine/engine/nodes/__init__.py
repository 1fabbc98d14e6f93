"""Node types of the strategy graph, one module each, behind a registry (engine.nodes.registry)."""
