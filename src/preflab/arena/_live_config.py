"""Live mode's models file: the OpenAI-compatible endpoints that answer the voters' prompts.

``preflab arena serve --live models.toml`` reads a TOML file like this one::

    [live]                          # optional; these are the defaults
    timeout = 120                   # seconds for one whole answer
    max_prompt_chars = 4000         # longer prompts are refused
    max_answer_chars = 32000        # longer answers are cut here
    rate_limit = 10                 # generations per minute per voter (0: no limit)
    rate_limit_ip = 60              # generations per minute per client IP (0: no limit)
    max_concurrent = 16             # battles generating at once, per worker process
    update_interval = 0.1           # min seconds between re-renders of a streaming answer
                                    # (longer answers: len/20000 s; 0: every piece)

    [[model]]
    name = "llama-3.1-8b"           # shown after the vote; the name in votes and leaderboard
    base_url = "http://127.0.0.1:8001/v1"
    model = "meta-llama/Llama-3.1-8B-Instruct"   # the model id the endpoint expects
    api_key_env = ""                # no key; else the NAME of the variable that holds it
    system = "You are a helpful assistant."      # optional system message
    timeout = 60                    # optional; overrides [live] timeout
    params = { temperature = 0.7, max_tokens = 1024 }   # optional extra request fields

    [[model]]
    name = "gpt-4o-mini"
    base_url = "https://api.openai.com/v1"
    model = "gpt-4o-mini"
    api_key_env = "OPENAI_API_KEY"

Every problem is reported with the file, the ``[[model]]`` entry, the field and a fix.  API
keys never go in the file (nor in the arena's settings): each worker reads them from the
environment when it calls the endpoint.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from preflab._errors import DataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

RESERVED_PARAMS = frozenset({"model", "messages", "stream", "n", "stream_options"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class LiveModel:
    """One contestant: a display name and how to call its endpoint.

    ``params`` are extra request fields (``temperature``, ``max_tokens``, ``top_p``...) sent
    as given; ``timeout`` (seconds for the whole answer) overrides the file's ``[live]`` one.
    """

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None
    system: str | None = None
    timeout: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def api_key(self) -> str | None:
        """The key from ``api_key_env`` at call time (``None`` without one)."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """The ``[live]`` section (see the module docstring for the meaning and defaults)."""

    timeout: float = 120.0
    max_prompt_chars: int = 4000
    max_answer_chars: int = 32000
    rate_limit: int = 10
    rate_limit_ip: int = 60
    max_concurrent: int = 16
    update_interval: float = 0.1


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """A checked models file."""

    path: str
    models: tuple[LiveModel, ...]
    settings: LiveSettings

    def model(self, name: str) -> LiveModel:
        return next(m for m in self.models if m.name == name)


def _number(value: Any, *, where: str, name: str, integer: bool, minimum: float,
            fix: str) -> float:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or value < minimum:
        kind = "a whole number" if integer else "a number"
        raise DataError(f"{value!r} is not {kind} >= {minimum:g}", path=where, field=name,
                        fix=fix)
    return float(value)


def _settings(data: Any, path: str) -> LiveSettings:
    where = f"{path} [live]"
    if not isinstance(data, dict):
        raise DataError("[live] must be a table", path=path, field="live",
                        fix="Write it as a [live] section with key = value lines.")
    known = {f.name: f for f in fields(LiveSettings)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise DataError(f"unknown setting {key!r}", path=where, field=key,
                            fix=f"Use only: {', '.join(known)}.")
        integer = known[key].type in ("int", int)
        minimum = 0.0 if key in ("rate_limit", "rate_limit_ip", "update_interval") else 1.0
        if key == "timeout":
            minimum = 0.001
        number = _number(value, where=where, name=key, integer=integer, minimum=minimum,
                         fix=f"Set {key} = {getattr(LiveSettings(), key)} (the default) or "
                             "another such value.")
        values[key] = int(number) if integer else number
    return LiveSettings(**values)


def _text(entry: dict[str, Any], key: str, where: str, fix: str, *,
          required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        what = "missing" if value is None else f"{value!r} is not a non-empty string"
        raise DataError(what, path=where, field=key, fix=fix)
    return value.strip()


def _model(entry: Any, i: int, path: str) -> LiveModel:
    where = f"{path} [[model]] entry {i + 1}"
    if not isinstance(entry, dict):
        raise DataError("an entry must be a table", path=where, fix="Write it as [[model]].")
    if isinstance(entry.get("name"), str) and entry["name"].strip():
        where += f" ({entry['name'].strip()!r})"
    if "api_key" in entry:
        raise DataError("the API key itself must not be in the file", path=where,
                        field="api_key", fix='Export it and name the variable instead: '
                                            'api_key_env = "OPENAI_API_KEY".')
    known = {f.name for f in fields(LiveModel)}
    for key in entry:
        if key not in known:
            raise DataError(f"unknown field {key!r}", path=where, field=key,
                            fix=f"Use only: {', '.join(sorted(known))}; request fields such as "
                                "temperature go in params = { ... }.")
    name = _text(entry, "name", where, 'Add name = "<name shown after the vote>".')
    assert name is not None
    if len(name) > 200:
        raise DataError("the name is longer than 200 characters", path=where, field="name",
                        fix="Use a shorter display name.")
    base_url = _text(entry, "base_url", where,
                     'Add base_url = "https://api.openai.com/v1" (the API root).')
    assert base_url is not None
    if not base_url.startswith(("http://", "https://")):
        raise DataError(f"{base_url!r} is not an http:// or https:// URL", path=where,
                        field="base_url", fix='Write the API root, e.g. "http://127.0.0.1:8000/v1".')
    if base_url.rstrip("/").endswith("/chat/completions"):
        raise DataError("base_url is the full endpoint", path=where, field="base_url",
                        fix="Give the API root ending in /v1; /chat/completions is added.")
    model = _text(entry, "model", where, 'Add model = "<model id the endpoint expects>".')
    assert model is not None
    system = _text(entry, "system", where, "Write the system message as a string or drop it.",
                   required=False)
    key_env = entry.get("api_key_env")
    if key_env is not None and not isinstance(key_env, str):
        raise DataError(f"{key_env!r} is not a string", path=where, field="api_key_env",
                        fix='Name the environment variable, e.g. api_key_env = "OPENAI_API_KEY".')
    key_env = (key_env or "").strip() or None
    if key_env is not None:
        if not _ENV_NAME.match(key_env):
            raise DataError(f"{key_env[:6]!r}... is not an environment variable name",
                            path=where, field="api_key_env",
                            fix="Put the NAME of the variable holding the key here "
                                '(api_key_env = "OPENAI_API_KEY"), never the key.')
        if key_env not in os.environ:
            raise DataError(f"environment variable {key_env} is not set", path=where,
                            field="api_key_env",
                            fix=f"export {key_env}=... before starting the arena, or set "
                                'api_key_env = "" for a server without a key.')
    timeout = None
    if "timeout" in entry:
        timeout = _number(entry["timeout"], where=where, name="timeout", integer=False,
                          minimum=0.001, fix="Give seconds for the whole answer, e.g. 60.")
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise DataError("params must be a table", path=where, field="params",
                        fix="Write params = { temperature = 0.7, max_tokens = 1024 }.")
    clash = sorted(RESERVED_PARAMS & set(params))
    if clash:
        raise DataError(f"params may not set {clash[0]!r}", path=where, field="params",
                        fix="The arena sets model, messages and stream itself (one answer "
                            "per call); remove it from params.")
    return LiveModel(name=name, base_url=base_url.rstrip("/"), model=model, api_key_env=key_env,
                     system=system, timeout=timeout, params=dict(params))


def live_config_from_dict(data: dict[str, Any], *, path: str = "models.toml") -> LiveConfig:
    """Check a parsed models file (see the module docstring); errors name entry and field."""
    unknown = sorted(set(data) - {"live", "model"})
    if unknown:
        raise DataError(f"unknown section {unknown[0]!r}", path=path, field=unknown[0],
                        fix="A models file has an optional [live] section and [[model]] "
                            "entries (note: [[model]], singular, with double brackets).")
    settings = _settings(data.get("live", {}), path)
    entries = data.get("model", [])
    if not isinstance(entries, list):
        raise DataError("model must be a list of tables", path=path, field="model",
                        fix="Write each model as its own [[model]] section.")
    models = tuple(_model(e, i, path) for i, e in enumerate(entries))
    if len(models) < 2:
        raise DataError(f"live mode needs at least two models, the file has {len(models)}",
                        path=path, field="model", fix="Add [[model]] entries (see "
                        "`preflab arena serve --help`).")
    seen: dict[str, int] = {}
    for i, m in enumerate(models):
        if m.name in seen:
            raise DataError(f"the name {m.name!r} is already used by entry {seen[m.name] + 1}",
                            path=f"{path} [[model]] entry {i + 1}", field="name",
                            fix="Give every model its own name (votes are stored by name).")
        seen[m.name] = i
    return LiveConfig(path=path, models=models, settings=settings)


def load_live_config(path: str | Path) -> LiveConfig:
    """Read and check a models file for live mode."""
    p = Path(path)
    if not p.is_file():
        raise DataError("models file not found", path=str(p), fix="Check the --live path.")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not valid TOML: {exc}", path=str(p),
                        fix="Fix the syntax (strings need quotes; see the example in "
                            "`preflab arena serve --help`).") from exc
    return live_config_from_dict(data, path=str(p))
