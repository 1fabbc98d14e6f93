"""The node type registry: a new node type is a module with a class registered here, nothing else changes."""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from pydantic import BaseModel

from engine.nodes.base import NodeType

# module -> class of the built-in node types. Imported on first use, so that importing one node module never
# drags in the others; registering here too keeps a module that forgot to call `register` from going missing.
BUILTINS = {
    "engine.nodes.data_source": "DataSource",
    "engine.nodes.filter": "Filter",
    "engine.nodes.orchestrator": "Orchestrator",
    "engine.nodes.signals": "PriceSignal",
    "engine.nodes.signals:BookSignal": "BookSignal",
    "engine.nodes.logic": "Logic",
    "engine.nodes.notify": "Notify",
}

_types: dict[str, NodeType] = {}
_builtins_loaded = False

T = TypeVar("T")


def register(node_type_cls: type[T]) -> type[T]:
    """Register a node type class under its `type_name` (usable as a decorator).

    One instance serves every run, so node types keep no per-run state.
    """
    cls: Any = node_type_cls
    name = getattr(cls, "type_name", None)
    config_model = getattr(cls, "config_model", None)
    if not isinstance(name, str) or not name or not callable(getattr(cls, "run", None)):
        raise TypeError(f"{cls!r} is not a node type: it needs a `type_name` and a `run` method")
    if not (isinstance(config_model, type) and issubclass(config_model, BaseModel)):
        raise TypeError(f"node type {name!r} needs a pydantic `config_model`")
    if config_model.model_config.get("extra") != "forbid":
        raise TypeError(f"node type {name!r}: its config model must forbid unknown keys (extra='forbid')")
    existing = _types.get(name)
    if existing is not None and type(existing).__qualname__ != cls.__qualname__:
        raise ValueError(f"node type {name!r} is already registered by {type(existing).__qualname__}")
    _types[name] = cls()
    return node_type_cls


def unregister(name: str) -> None:
    """Remove a type (tests register throwaway types and clean up after themselves)."""
    _types.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded  # noqa: PLW0603 - a one-time import cache
    if _builtins_loaded:
        return
    for module_name, class_name in BUILTINS.items():
        register(getattr(importlib.import_module(module_name.split(":")[0]), class_name))
    _builtins_loaded = True


def get_node_type(name: str) -> NodeType:
    """The registered type with this name; KeyError naming the known types otherwise."""
    _load_builtins()
    try:
        return _types[name]
    except KeyError:
        raise KeyError(f"unknown node type {name!r} (known: {', '.join(node_type_names())})") from None


def node_type_names() -> list[str]:
    _load_builtins()
    return sorted(_types)
