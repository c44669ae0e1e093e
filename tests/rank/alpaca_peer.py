"""AlpacaEval's GLM module for the peer checks (alpaca-eval is a benchmark-only dependency)."""

from __future__ import annotations

import importlib.metadata
import sys
import types
from typing import Any

import pytest


def alpaca_eval_glm() -> Any:
    """``alpaca_eval.metrics.glm_winrate``, or a skip naming the missing peer.

    alpaca_eval 0.6.6 imports ``pkg_resources``, which setuptools >= 81 no longer ships; a
    two-function shim stands in for it.
    """
    try:
        importlib.metadata.version("alpaca-eval")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("peer check needs alpaca-eval==0.6.6 (benchmark-only dependency)")
    if "pkg_resources" not in sys.modules:
        from packaging.version import parse

        shim = types.ModuleType("pkg_resources")
        shim.parse_version = parse  # type: ignore[attr-defined]
        shim.get_distribution = lambda n: types.SimpleNamespace(  # type: ignore[attr-defined]
            version=importlib.metadata.version(n))
        sys.modules["pkg_resources"] = shim
    import alpaca_eval.metrics.glm_winrate as glm

    return glm
