"""The Task Force's indicators: a registry defined as data, evaluated where the data lives.

- :mod:`.spec` reads and checks the registry files (``registry/*.toml``);
- :mod:`.evaluate` computes an indicator's numerators and denominators across the sources;
- :mod:`.sources` says which registered agencies an indicator relies on.
"""

from __future__ import annotations

from functools import lru_cache

from hub.engine.indicators.spec import Registry, load_registry


@lru_cache(maxsize=1)
def builtin_registry() -> Registry:
    """The shipped registry, read and checked once (immutable: safe to share)."""
    return load_registry()


__all__ = ["Registry", "builtin_registry", "load_registry"]
