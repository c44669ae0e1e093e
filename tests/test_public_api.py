"""Each subpackage re-exports its public names in ``__all__`` (house style)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import preflab

SUBPACKAGES = ["data", "rank", "judge", "audit", "rm", "arena", "bench", "report", "cli"]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_all_names_resolve_and_are_unique(name):
    mod = importlib.import_module(f"preflab.{name}")
    names = getattr(mod, "__all__", None)
    assert isinstance(names, list), f"preflab.{name} has no __all__ list"
    assert len(names) == len(set(names)), "duplicate names in __all__"
    for n in names:
        assert hasattr(mod, n), f"preflab.{name}.__all__ names {n!r}, which is not defined"


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_public_functions_are_exported(name):
    """Public (non-underscore) functions and classes of the private modules are in __all__."""
    pkg = importlib.import_module(f"preflab.{name}")
    exported = set(pkg.__all__)
    missing = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_") or info.name.startswith("__"):
            continue
        mod = importlib.import_module(f"preflab.{name}.{info.name}")
        for attr in getattr(mod, "__all__", []):
            if attr not in exported:
                missing.append(f"{info.name}.{attr}")
    assert not missing, f"names listed in private modules' __all__ but not exported: {missing}"


def test_version():
    assert preflab.__version__


def test_lazy_rank_names_match_their_modules():
    import preflab.rank as rank

    for module, names in rank._LAZY.items():
        assert sorted(names) == sorted(importlib.import_module(module).__all__), module
