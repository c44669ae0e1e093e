"""Arena settings: one frozen dataclass, passed to workers as JSON in an environment variable."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

from preflab._errors import PreflabError

CONFIG_ENV = "PREFLAB_ARENA_CONFIG_JSON"


@dataclass(frozen=True, slots=True)
class ArenaConfig:
    """Everything the web app needs.

    Parameters
    ----------
    db : SQLAlchemy URL (``sqlite:///arena.sqlite`` or ``postgresql://user@host/db``).
    k : responses per battle: 2 (pairwise A/B/tie/both bad) or 3/4 (the voter orders them).
    matchmaking : ``active`` (uncertainty-driven, see ``_matchmaking``) or ``uniform``.
    admin_token : bearer token for ``/admin/*``; admin endpoints are off when ``None``.
    secret : signing secret; when ``None`` one is created once and kept in the database so
        every worker and restart shares it.
    rate_limit, rate_limit_ip : votes (and new battles) per minute per voter / per client IP,
        counted in the database so all workers share them; 0 disables.
    image_roots : directories local images may be served from (besides none).
    image_hosts : origins (``https://cdn.example.org``) the server may fetch remote images
        from; the page gets them through opaque ``/img`` URLs, never the remote URL.
    sqlite_synchronous : ``FULL`` (default; see ``_store``) or ``NORMAL``.
    refit_interval : seconds between refits of the live ratings used by matchmaking.
    bootstrap_rounds : bootstrap rounds of the leaderboard's intervals.
    explore : uniform share of active matchmaking.
    secure_cookies, hsts : set when served over HTTPS.
    live : path of a models file (``_live_config``): live mode, where ``/`` takes the voter's
        prompt and streams two models' answers from OpenAI-compatible endpoints (``_live``).
    """

    db: str = "sqlite:///arena.sqlite"
    k: int = 2
    matchmaking: str = "active"
    admin_token: str | None = None
    secret: str | None = None
    rate_limit: int = 30
    rate_limit_ip: int = 600
    image_roots: tuple[str, ...] = ()
    image_hosts: tuple[str, ...] = ()
    sqlite_synchronous: str = "FULL"
    refit_interval: float = 2.0
    bootstrap_rounds: int = 200
    explore: float = 0.2
    title: str = "preflab arena"
    secure_cookies: bool = False
    hsts: bool = False
    battle_max_age: float = 3600.0
    live: str | None = None

    def __post_init__(self) -> None:
        if self.k not in (2, 3, 4):
            raise PreflabError(f"k must be 2, 3 or 4, not {self.k}")
        if self.matchmaking not in ("active", "uniform"):
            raise PreflabError(
                f"matchmaking must be 'active' or 'uniform', not {self.matchmaking!r}")
        if not 0.0 <= self.explore <= 1.0:
            raise PreflabError(f"explore must be in [0, 1], not {self.explore}")
        if self.live and self.k != 2:
            raise PreflabError(f"live mode streams two answers per battle; use k=2, not {self.k}")
        for host in self.image_hosts:
            if not host.startswith("https://") and not host.startswith("http://"):
                raise PreflabError(f"image host {host!r} must be an origin like https://cdn.x.org")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ArenaConfig:
        data = json.loads(text)
        for key in ("image_roots", "image_hosts"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)

    @classmethod
    def from_env(cls) -> ArenaConfig:
        text = os.environ.get(CONFIG_ENV)
        if not text:
            raise PreflabError(
                f"{CONFIG_ENV} is not set; start the arena with `preflab arena serve`")
        return cls.from_json(text)
