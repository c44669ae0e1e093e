"""Judge definitions: an endpoint, a model, sampling settings, a template, a parser, prices.

A judge is a :class:`JudgeConfig`, built in Python or read from a TOML file::

    name = "gpt-4o-mini-ah"          # optional; the judge column defaults to the model
    model = "gpt-4o-mini"
    base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"   # the key itself never goes in the file
    template = "arena-hard"          # built-in name or a path to a template .toml
    temperature = 0.0
    max_tokens = 2048
    n_samples = 1                    # >1: multi-sample judging
    aggregate = "majority"           # or "mean"
    price_input = 0.15               # USD per million input tokens
    price_output = 0.60              # USD per million output tokens
    concurrency = 16
    rpm = 500                        # requests per minute (optional)
    tpm = 200000                     # tokens per minute (optional)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from preflab._errors import DataError
from preflab.judge._parse import Parser, get_parser
from preflab.judge._templates import Template, load_template, template_from_dict
from preflab.judge._toml import TOMLDecodeError, toml_loads


@dataclass(frozen=True, slots=True)
class JudgeConfig:
    """Everything that defines a judge. Prices are USD per million tokens."""

    model: str
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str | None = "OPENAI_API_KEY"
    name: str | None = None
    template: Template = field(default_factory=lambda: load_template("arena-hard"))
    parser: str | None = None
    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int = 2048
    seed: int | None = None
    n_samples: int = 1
    aggregate: str = "majority"
    reference: str = "none"  # "none" | "column" | "generate"
    reference_model: str | None = None
    price_input: float = 0.0
    price_output: float = 0.0
    concurrency: int = 16
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = 120.0
    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    transport: str = "auto"  # "auto" | "httpx" | "stream" (see preflab.judge._transport)
    extra_body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_samples < 1:
            raise DataError(
                "n_samples must be at least 1", field="n_samples", fix="Set n_samples = 1 or more."
            )
        if self.aggregate not in ("majority", "mean"):
            raise DataError(
                f"aggregate {self.aggregate!r} is not 'majority' or 'mean'",
                field="aggregate",
                fix='Set aggregate = "majority" or "mean".',
            )
        if self.reference not in ("none", "column", "generate"):
            raise DataError(
                f"reference {self.reference!r} is not none, column or generate",
                field="reference",
                fix='Set reference = "generate" to have the judge answer first.',
            )
        if self.concurrency < 1:
            raise DataError(
                "concurrency must be at least 1",
                field="concurrency",
                fix="Set concurrency = 1 or more.",
            )
        get_parser(self.parser or self.template.parser)  # fail early on unknown parser names

    @property
    def judge_name(self) -> str:
        """Value of the ``judge`` column: ``name`` if given, else the model."""
        return self.name or self.model

    @property
    def parse(self) -> Parser:
        """The reply parser (the judge's ``parser`` or else the template's)."""
        return get_parser(self.parser or self.template.parser)

    def sampling(self) -> dict[str, Any]:
        """Request parameters that change the answer (they are part of the cache key)."""
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.seed is not None:
            params["seed"] = self.seed
        params.update(self.extra_body)
        return params

    def api_key(self) -> str | None:
        """The API key from ``api_key_env`` (``None`` when no variable is configured)."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if key is None:
            raise DataError(
                f"environment variable {self.api_key_env} is not set",
                field="api_key_env",
                fix=f'export {self.api_key_env}=... or set api_key_env = "" for a '
                "server without authentication.",
            )
        return key

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """USD cost of one call."""
        return (input_tokens * self.price_input + output_tokens * self.price_output) / 1e6

    def with_(self, **changes: Any) -> JudgeConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)


def judge_from_dict(
    data: dict[str, Any], *, path: str | None = None, base: Path | None = None
) -> JudgeConfig:
    """Build a :class:`JudgeConfig` from a mapping (a parsed TOML file), naming bad fields."""
    known = {f.name for f in fields(JudgeConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise DataError(
            f"unknown judge settings {unknown}",
            path=path,
            field=unknown[0],
            fix=f"Use only: {', '.join(sorted(known))}.",
        )
    if "model" not in data:
        raise DataError(
            "the judge has no model",
            path=path,
            field="model",
            fix='Add model = "<model name on the server>".',
        )
    values = dict(data)
    tpl = values.get("template", "arena-hard")
    if isinstance(tpl, dict):
        values["template"] = template_from_dict(tpl, path=path)
    elif isinstance(tpl, str):
        values["template"] = load_template(tpl, base=base)
    if values.get("api_key_env") == "":
        values["api_key_env"] = None
    try:
        return JudgeConfig(**values)
    except TypeError as exc:
        raise DataError(
            f"bad judge settings: {exc}", path=path, fix="Check the field types."
        ) from exc


def load_judge(path: str | Path) -> JudgeConfig:
    """Read a judge definition from a TOML file (see the module docstring for the fields)."""
    p = Path(path)
    if not p.exists():
        raise DataError("judge file not found", path=str(p), fix="Check the path.")
    try:
        data = toml_loads(p.read_text(encoding="utf-8"))
    except TOMLDecodeError as exc:
        raise DataError(f"invalid TOML: {exc}", path=str(p), fix="Fix the TOML syntax.") from exc
    return judge_from_dict(data, path=str(p), base=p.parent)
