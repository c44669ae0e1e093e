"""User templates from files: pointwise templates may grade the prompt alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflab._errors import DataError
from preflab.judge import load_template


def test_prompt_only_pointwise_template_loads(tmp_path: Path) -> None:
    path = tmp_path / "quality.toml"
    path.write_text('kind = "pointwise"\nparser = "score-1-5"\n'
                    'user = """Rate how hard this prompt is, 1-5.\\n\\n{prompt}"""\n')
    template = load_template(str(path))
    assert template.kind == "pointwise"
    assert "What is 2+2?" in template.render(prompt="What is 2+2?")[-1]["content"]


def test_pointwise_template_without_prompt_or_response_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('kind = "pointwise"\nuser = "Rate something."\n')
    with pytest.raises(DataError, match=r"must contain \{response\} \(or \{prompt\}"):
        load_template(str(path))
