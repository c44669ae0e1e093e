"""Every citation key used in docstrings resolves in docs/references.md (house style)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_citation_keys_resolve():
    listed = set(re.findall(r"\*\*\[([^\]]+)\]\*\*", (ROOT / "docs" / "references.md").read_text()))
    used: dict[str, str] = {}
    for path in (ROOT / "src" / "preflab").rglob("*.py"):
        for key in re.findall(r"\[([A-Za-z][A-Za-z0-9+-]*\d\d[a-z]?)\]_", path.read_text()):
            used.setdefault(key, str(path.relative_to(ROOT)))
    missing = {k: v for k, v in used.items() if k not in listed}
    assert not missing, f"cite keys missing from docs/references.md: {missing}"


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash)?\n(.*?)```", text, re.S)
    assert block is not None
    commands = [ln.split("#")[0].strip() for ln in block.group(1).splitlines() if ln.strip()]
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_test_module_basenames_are_unique():
    """pytest's default import mode needs unique basenames across test folders."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    dupes = sorted({n for n in names if names.count(n) > 1})
    assert not dupes, f"rename these test modules, their basenames collide: {dupes}"
