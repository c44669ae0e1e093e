"""preflab: turn human and AI preferences into trustworthy rankings and reward signals."""

from __future__ import annotations

from preflab._errors import DataError, ModelError, PreflabError

__version__ = "0.1.0"
__all__ = ["DataError", "ModelError", "PreflabError", "__version__"]
