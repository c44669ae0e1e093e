"""Small bundled samples for demos: ``sample:llmfao`` resolves to the LLMFAO crowd votes.

LLMFAO (Ustalov 2023, https://github.com/dustalov/llmfao), CC BY 4.0: 8,931 crowd votes on
2,139 response pairs of 59 models; prompts and responses from the llmonitor.com
"Crowdsourced LLM Benchmark" (CC BY 4.0). See README.md in this folder.
"""

from __future__ import annotations

from pathlib import Path

from preflab._errors import DataError

_HERE = Path(__file__).resolve().parent
SAMPLES = {
    "llmfao": _HERE / "llmfao_votes.parquet",
    "llmfao-responses": _HERE / "llmfao_responses.parquet",
}


def sample_path(name: str) -> Path:
    """Path of a bundled sample (``llmfao``: the comparisons; ``llmfao-responses``: texts)."""
    try:
        p = SAMPLES[name]
    except KeyError:
        raise DataError(f"no bundled sample named '{name}'",
                        fix=f"Use one of: {', '.join('sample:' + k for k in SAMPLES)}.") from None
    if not p.exists():
        raise DataError(f"bundled sample '{name}' is missing from the installation", path=str(p),
                        fix="Reinstall preflab.")
    return p


def resolve(path: str) -> str:
    """``sample:NAME`` becomes the bundled file's path; anything else is returned unchanged."""
    if path.startswith("sample:"):
        return str(sample_path(path.split(":", 1)[1]))
    return path
