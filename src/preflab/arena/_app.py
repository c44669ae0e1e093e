"""The arena web app (FastAPI): vote page, reveal, K-wise ordering, leaderboard, images.

Pages are server-rendered HTML that work without JavaScript; ``/static/arena.js`` adds
keyboard voting and leaderboard refresh.  Admin endpoints live in ``_admin``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from preflab.arena._admin import add_admin_routes
from preflab.arena._config import ArenaConfig
from preflab.arena._engine import Arena
from preflab.arena._history import Seen
from preflab.arena._images import is_url, local_image, origin, remote_image
from preflab.arena._raw import Limits, RateLimited
from preflab.arena._render import render_markdown
from preflab.arena._security import (
    SecurityHeaders,
    Signer,
    content_security_policy,
)
from preflab.arena._store import Battle, BattleUsed

log = logging.getLogger(__name__)

VOTER_COOKIE = "preflab_voter"
CHOICES = {"a": "model_a", "b": "model_b", "tie": "tie", "bothbad": "tie_bothbad"}
SLOT_LABELS = "ABCD"

_env = Environment(loader=PackageLoader("preflab.arena", "templates"),
                   autoescape=select_autoescape(["html"]), auto_reload=False)
T = TypeVar("T")
MAX_FORM = 64 * 1024


class ArenaApp:
    """Holds the per-worker state the route functions share."""

    def __init__(self, config: ArenaConfig) -> None:
        self.config = config
        self.arena = Arena(config)
        self.store = self.arena.store
        self.signer = Signer(config.secret or self.store.shared_secret(),
                             battle_max_age=config.battle_max_age)
        self.roots = [Path(r).resolve() for r in config.image_roots]

    def page(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = _env.get_template(name).render(title=self.config.title, **ctx)
        return HTMLResponse(html, status_code=status)

    def error(self, status: int, message: str, voter: str | None = None) -> HTMLResponse:
        resp = self.page("error.html", status=status, message=message)
        if status == 429:
            resp.headers["retry-after"] = "60"
        return resp

    def limits_for(self, request: Request, voter: str, kind: str = "vote") -> Limits:
        """The rate counters one ``kind`` event bumps: this voter's and this client IP's.

        Votes and new battles have separate windows (each vote also opens a battle).  The
        counters live in the database, so the limits hold across workers (``_raw``).
        """
        ip = request.client.host if request.client else "unknown"
        out = []
        if self.config.rate_limit > 0:
            out.append((f"{kind}:voter:{voter}", self.config.rate_limit))
        if self.config.rate_limit_ip > 0:
            out.append((f"{kind}:ip:{ip}", self.config.rate_limit_ip))
        return tuple(out)

    def limited(self, request: Request, voter: str, kind: str = "vote") -> bool:
        """Count one ``kind`` event now (its own small commit); True when over a limit."""
        try:
            self.store.count_events(self.limits_for(request, voter, kind)).result()
        except RateLimited:
            return True
        return False

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """A quick blocking database call: inline on SQLite, in a thread on PostgreSQL."""
        if self.store.raw.sqlite:
            return fn(*args)
        return await run_in_threadpool(fn, *args)

    def slot_view(self, battle: Battle, token: str) -> list[dict[str, Any]]:
        """What the page shows per slot: label, sanitized HTML, image URL; never model names."""
        rows = self.arena.responses(battle.prompt_id, battle.models)
        out = []
        for i, model in enumerate(battle.models):
            r = rows.get(model, {})
            image = r.get("image")
            img_url = None
            if image and (not is_url(image) or origin(image) in self.config.image_hosts):
                img_url = f"/img/{token}/{i}"  # remote images too: proxied, never linked
            out.append({"slot": i, "label": SLOT_LABELS[i],
                        "html": Markup(render_markdown(r.get("text") or "")),
                        "image": img_url, "has_image": bool(image)})
        return out

    def prompt_text(self, battle: Battle) -> str:
        rows = self.arena.responses(battle.prompt_id, battle.models[:1])
        return str(next(iter(rows.values()), {}).get("prompt") or battle.prompt_id)


class FastRoutes:
    """Pure ASGI: the two routes hit on every vote skip FastAPI's routing and dependency layers.

    The endpoints are the same functions FastAPI registers (``Request`` in, ``Response``
    out); only the dispatch is shorter.  Sits inside ``SecurityHeaders`` and Starlette's
    error middleware, so headers and 500 handling are unchanged.
    """

    def __init__(self, app: ASGIApp,
                 routes: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.routes.get((scope["method"], scope["path"]))
            if endpoint is not None:
                response = await endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def small_form(request: Request) -> dict[str, str] | None:
    """The fields of a small form post (``None`` when over ``MAX_FORM`` bytes).

    URL-encoded bodies (what the vote forms send) are parsed directly; anything else goes
    through Starlette's form parser.
    """
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    body = await request.body()
    if len(body) > MAX_FORM:
        return None
    try:
        fields = parse_qs(body.decode("latin-1"), max_num_fields=32)
    except ValueError:  # more fields than any arena form has
        return None
    return {k: v[0] for k, v in fields.items()}


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # not sent by old browsers or non-browser clients; CSRF token still needed
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def create_app(config: ArenaConfig) -> FastAPI:
    """Build the ASGI app for ``config`` (creates the tables if needed)."""
    state = ArenaApp(config)
    app = FastAPI(title=config.title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.arena = state
    static_dir = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static_dir), name="static")
    if config.live:  # live mode: its "/" (registered first) replaces the pre-loaded vote page
        from preflab.arena._live import add_live_routes
        add_live_routes(app, state)

    def voter_of(request: Request) -> tuple[str, bool]:
        voter = state.signer.voter_from_cookie(request.cookies.get(VOTER_COOKIE))
        if voter is None:
            return secrets.token_hex(16), True
        return voter, False

    def with_cookie(resp: Response, voter: str, new: bool) -> Response:
        if new:
            resp.set_cookie(VOTER_COOKIE, state.signer.voter_cookie(voter), max_age=400 * 86400,
                            httponly=True, samesite="strict", secure=config.secure_cookies)
        return resp

    def check_post(request: Request, csrf: str) -> tuple[str | None, Response | None]:
        """The voter of a genuine same-origin form post (rate limits count at the write)."""
        voter = state.signer.voter_from_cookie(request.cookies.get(VOTER_COOKIE))
        if not _same_origin(request) or not state.signer.check_csrf(csrf, voter):
            return None, state.error(403, "This form expired or did not come from this arena. "
                                          "Reload the page and vote again.")
        assert voter is not None
        return voter, None

    too_many_votes = "Too many votes in a minute. Take a short break."

    @app.get("/", response_class=HTMLResponse)
    async def vote_page(request: Request) -> Response:
        voter, new = voter_of(request)
        cutoff = time.time() - config.battle_max_age + 60
        seen, battle = (Seen(""), None) if new else await state.call(state.arena.seen, voter)
        if battle is not None and (battle.status != "open" or battle.created <= cutoff):
            battle = None  # show the newest battle again only while it is open and fresh
        if battle is None:
            plan = state.arena.plan_battle(seen)
            if plan is None:
                empty = not state.arena.catalog().models
                return with_cookie(state.page("done.html", empty=empty), voter, new)
            limits = state.limits_for(request, voter, "battle")
            try:
                battle = await asyncio.wrap_future(state.store.submit_battle(voter, *plan, limits))
            except RateLimited:
                return with_cookie(state.error(429, "Too many battles in a minute."), voter, new)
        token = state.signer.battle_token(battle.id, voter)
        resp = state.page(
            "vote.html", token=token, csrf=state.signer.csrf_token(voter),
            prompt=Markup(render_markdown(state.prompt_text(battle))),
            slots=state.slot_view(battle, token), k=len(battle.models))
        return with_cookie(resp, voter, new)

    def resolve(voter: str, token: str) -> Battle | Response:
        battle_id = state.signer.battle_from_token(token, voter)
        if battle_id is None:
            return state.error(403, "This battle token is not valid for you (or it expired).")
        battle = state.store.get_battle(battle_id)
        if battle is None or battle.voter != voter:
            return state.error(403, "Unknown battle.")
        return battle

    @app.post("/vote", response_class=HTMLResponse)
    async def vote(request: Request) -> Response:
        form = await small_form(request)
        if form is None:
            return state.error(413, "That form is too large.")
        voter, err = check_post(request, form.get("csrf", ""))
        if err is not None:
            return err
        assert voter is not None
        choice = form.get("choice", "")
        if choice not in CHOICES:
            return state.error(400, "Choose A, B, tie or both bad.")
        battle_id = state.signer.battle_from_token(form.get("token"), voter)
        if battle_id is None:
            return state.error(403, "This battle token is not valid for you (or it expired).")
        limits = state.limits_for(request, voter)
        try:
            battle = await asyncio.wrap_future(
                state.store.submit_vote(battle_id, voter, CHOICES[choice], limits))
        except BattleUsed as exc:
            return state.error(409, str(exc).capitalize() + ".")
        except RateLimited:
            return state.error(429, too_many_votes)
        return reveal(battle, choice=choice)

    @app.post("/rank", response_class=HTMLResponse)
    async def rank(request: Request) -> Response:
        form = await request.form()
        csrf, token = str(form.get("csrf", "")), str(form.get("token", ""))
        voter, err = check_post(request, csrf)
        if err is not None:
            return err
        assert voter is not None
        battle_id = state.signer.battle_from_token(token, voter)
        if battle_id is None:
            return state.error(403, "This battle token is not valid for you (or it expired).")
        k = config.k
        places: dict[int, list[int]] = {}
        for slot in range(k):
            raw = str(form.get(f"place_{slot}", ""))
            if not raw.isdigit() or not 1 <= int(raw) <= k:
                return state.error(400, f"Give response {SLOT_LABELS[slot]} a place from 1 to {k}.")
            places.setdefault(int(raw), []).append(slot)
        order = [places[p] for p in sorted(places)]
        limits = state.limits_for(request, voter)
        try:
            battle = await asyncio.wrap_future(
                state.store.submit_ranking(battle_id, voter, order, limits))
        except BattleUsed as exc:
            return state.error(409, str(exc).capitalize() + ".")
        except RateLimited:
            return state.error(429, too_many_votes)
        return reveal(battle, order=order)

    def reveal(battle: Battle, *, choice: str | None = None,
               order: list[list[int]] | None = None) -> Response:
        named = [{"label": SLOT_LABELS[i], "model": m} for i, m in enumerate(battle.models)]
        groups = None
        if order is not None:
            groups = [", ".join(f"{SLOT_LABELS[i]} ({battle.models[i]})" for i in g)
                      for g in order]
        return state.page("reveal.html", named=named, choice=choice, groups=groups)

    @app.post("/skip")
    def skip(request: Request, token: str = Form(""), csrf: str = Form("")) -> Response:
        voter, err = check_post(request, csrf)
        if err is not None:
            return err
        assert voter is not None
        found = resolve(voter, token)
        if isinstance(found, Response):
            return found
        try:
            state.store.submit_skip(found.id, voter, state.limits_for(request, voter)).result()
        except BattleUsed as exc:
            return state.error(409, str(exc).capitalize() + ".")
        except RateLimited:
            return state.error(429, too_many_votes)
        return RedirectResponse("/", status_code=303)

    def image_source(request: Request, token: str, slot: int) -> Response | str:
        """The stored image path or URL of one slot of the voter's battle (or an error)."""
        voter = state.signer.voter_from_cookie(request.cookies.get(VOTER_COOKIE))
        found = resolve(voter or "", token) if voter else state.error(403, "No voter.")
        if isinstance(found, Response):
            return found
        if not 0 <= slot < len(found.models):
            return state.error(404, "No such image.")
        row = state.store.responses_for(found.prompt_id, [found.models[slot]])
        source = next(iter(row.values()), {}).get("image")
        return str(source) if source else state.error(404, "No such image.")

    @app.get("/img/{token}/{slot}")
    async def image(request: Request, token: str, slot: int) -> Response:
        source = await run_in_threadpool(image_source, request, token, slot)
        if isinstance(source, Response):
            return source
        if is_url(source):
            async with httpx.AsyncClient() as client:
                found = await remote_image(client, source, config.image_hosts)
            return found or state.error(404, "Image not available (host refused or failed).")
        return (await run_in_threadpool(local_image, source, state.roots)
                or state.error(404, "Image not available (outside the image roots?)."))

    @app.get("/leaderboard", response_class=HTMLResponse)
    def leaderboard() -> Response:
        board = state.arena.full_board()
        rows = []
        for rank_i, i in enumerate(board.order(), start=1):
            rows.append({"rank": rank_i, "model": board.models[i],
                         "rating": f"{board.rating[i]:.0f}",
                         # a model nobody has voted on yet has no interval, not a zero-width one
                         "ci": (f"{board.ci[i, 0]:.0f} – {board.ci[i, 1]:.0f}"
                                if board.games[i] > 0 else "no votes yet"),
                         "ranks": (f"{board.rank_lb[i]}–{board.rank_ub[i]}"
                                   if board.games[i] > 0 else f"1–{len(board.models)}"),
                         "games": f"{board.games[i]:.0f}"})
        counts = state.store.counts()
        return state.page("leaderboard.html", rows=rows, counts=counts,
                          rounds=board.n_rounds)

    @app.get("/leaderboard.json")
    def leaderboard_json() -> Response:
        board = state.arena.full_board()
        return JSONResponse({"models": [
            {"model": board.models[i], "rating": float(board.rating[i]),
             "ci": ([float(board.ci[i, 0]), float(board.ci[i, 1])]
                    if board.games[i] > 0 else None),
             "rank_interval": ([int(board.rank_lb[i]), int(board.rank_ub[i])]
                               if board.games[i] > 0 else [1, len(board.models)]),
             "games": float(board.games[i])} for i in board.order()],
            "bootstrap_rounds": board.n_rounds})

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/healthz")
    def healthz() -> Response:
        return JSONResponse({"ok": True})

    add_admin_routes(app, state.store, config)
    if not config.live:  # live mode serves its own "/"
        app.add_middleware(FastRoutes, routes={("GET", "/"): vote_page, ("POST", "/vote"): vote})
    app.add_middleware(SecurityHeaders, csp=content_security_policy(),  # images: /img only
                       hsts=config.hsts)
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: the config comes from ``PREFLAB_ARENA_CONFIG_JSON``.

    Everything imported and built so far (~140k objects) is moved out of the cyclic garbage
    collector's reach (``gc.freeze``): a full collection over them paused a worker for
    30-150 ms, which was the tail latency of the vote page.
    """
    app = create_app(ArenaConfig.from_env())
    gc.collect()
    gc.freeze()
    return app
