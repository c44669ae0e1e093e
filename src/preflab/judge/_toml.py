"""TOML reading: ``tomllib`` on Python 3.11+, the ``tomli`` backport before."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib as _tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as _tomllib

toml_loads = _tomllib.loads
TOMLDecodeError = _tomllib.TOMLDecodeError
