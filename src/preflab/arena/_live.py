"""Live mode: the voter's prompt goes to two models at once and both answers stream in.

``preflab arena serve --live models.toml`` replaces the vote page ``/`` with a prompt form
(type a prompt, or pick one of the arena's loaded prompts).  A battle then goes:

1. ``POST /live/battle`` (CSRF, rate limits per voter and IP, prompt length) keeps the prompt
   as a *pending* live battle and redirects to ``/live/b/<ticket>``; the ticket is signed
   over ``(live id, voter)`` and is not a battle token, so it cannot be used to vote.
2. The battle page opens ``/live/stream/<ticket>`` (server-sent events, read by
   ``/static/live.js``).  The first request claims the live battle (a compare-and-swap in the
   database, so a reload or a second tab never pays for a second generation), picks two
   models with the arena's matchmaking (``_matchmaking.choose_models`` over the live models,
   with the live board's scores) and calls both endpoints concurrently (``_live_client``).
   Each update is the answer so far rendered by the arena's Markdown sanitizer
   (markdown-it with HTML off, then nh3), never raw model text; the page replaces the panel's
   content with that HTML.  Events carry slot numbers only, never model names.
3. When both answers are complete they are stored in the responses table
   (``prompt_id = live-<id>``, the prompt text, the model's name, the text, category
   ``live``), a normal battle is created and only then the page receives its signed,
   single-use battle token: the vote goes through the same ``/vote`` (CSRF, single use,
   reveal) as pre-loaded battles, and export and leaderboard see live votes like any other.
   If an endpoint fails (refused, timeout, HTTP error, broken stream, empty answer) the
   other call is cancelled, the page says which response failed and why, and no battle (so no
   token, so no vote) exists.

The pending/claimed/done state of a live battle is a row ``live:<id>`` in ``arena_meta``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import anyio
import httpx
import numpy as np
import sqlalchemy as sa
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from preflab.arena._app import VOTER_COOKIE, ArenaApp, _same_origin
from preflab.arena._engine import LIVE_PREFIX
from preflab.arena._live_client import Failure, Update, generate
from preflab.arena._live_config import LiveConfig, LiveModel, load_live_config
from preflab.arena._matchmaking import choose_models
from preflab.arena._raw import RateLimited
from preflab.arena._render import _md, render_markdown, sanitize_html
from preflab.arena._store import Battle, Store, meta_t, responses_t

log = logging.getLogger(__name__)

LABELS = "AB"
PREFIX = LIVE_PREFIX  # prompt_id of live prompts (never served to other voters)


# ---- state of a live battle (one arena_meta row) -----------------------------------------
def _key(live_id: str) -> str:
    return "live:" + live_id


def put_pending(store: Store, voter: str, prompt: str) -> str:
    """Keep a voter's prompt as a pending live battle; returns its id."""
    live_id = secrets.token_hex(16)
    rec = {"voter": voter, "prompt": prompt, "status": "pending", "created": time.time()}
    store.set_meta(_key(live_id), json.dumps(rec))
    return live_id


def get_record(store: Store, live_id: str) -> dict[str, Any] | None:
    value = store.get_meta(_key(live_id))
    return None if value is None else dict(json.loads(value))


def claim(store: Store, live_id: str) -> dict[str, Any] | None:
    """Move a pending live battle to ``running``; ``None`` unless this caller won the swap."""
    key = _key(live_id)
    with store.write() as c:
        old = c.execute(sa.select(meta_t.c.value).where(meta_t.c.key == key)).scalar()
        if old is None:
            return None
        rec = dict(json.loads(old))
        if rec.get("status") != "pending":
            return None
        rec["status"] = "running"
        done = c.execute(meta_t.update().where(meta_t.c.key == key, meta_t.c.value == old)
                         .values(value=json.dumps(rec)))
        return rec if done.rowcount == 1 else None


def fail(store: Store, live_id: str, message: str) -> None:
    """Mark a live battle failed (shown again on reload) unless it was completed."""
    rec = get_record(store, live_id) or {}
    if rec.get("status") == "done":  # the page left while the answers were being stored
        return
    rec.update(status="failed", message=message)
    store.set_meta(_key(live_id), json.dumps(rec))


def finish(store: Store, live_id: str, rec: dict[str, Any], models: tuple[LiveModel, ...],
           texts: dict[int, str]) -> Battle:
    """Store both answers as responses, create the battle to vote on, mark the live one done."""
    prompt_id = PREFIX + live_id
    rows = [{"prompt_id": prompt_id, "model": m.name, "text": texts[i], "prompt": rec["prompt"],
             "image": None, "category": "live"} for i, m in enumerate(models)]
    with store.write() as c:
        c.execute(responses_t.insert(), rows)
        store.set_meta("content_version", secrets.token_hex(8), conn=c)
    battle = store.create_battle(rec["voter"], prompt_id, [m.name for m in models])
    rec.update(status="done", battle=battle.id)
    store.set_meta(_key(live_id), json.dumps(rec))
    return battle


def loaded_prompts(store: Store, limit: int = 500) -> list[tuple[str, str]]:
    """``(prompt_id, prompt text)`` of the pre-loaded content (live prompts excluded)."""
    q = (sa.select(responses_t.c.prompt_id, sa.func.max(responses_t.c.prompt))
         .where(~responses_t.c.prompt_id.startswith(PREFIX))
         .group_by(responses_t.c.prompt_id).order_by(responses_t.c.prompt_id).limit(limit))
    with store.read() as c:
        return [(str(r[0]), str(r[1] or r[0])) for r in c.execute(q)]


def loaded_prompt(store: Store, prompt_id: str) -> str | None:
    """The text of one pre-loaded prompt (``None`` for unknown and for live prompts)."""
    if prompt_id.startswith(PREFIX):
        return None
    q = (sa.select(sa.func.max(responses_t.c.prompt), sa.func.count())
         .where(responses_t.c.prompt_id == prompt_id))
    with store.read() as c:
        row = c.execute(q).first()
    if row is None or not row[1]:
        return None
    return str(row[0] or prompt_id)


def live_limited(state: ArenaApp, settings: Any, voter: str, ip: str) -> bool:
    """Count one generation for this voter and client IP; True when over a limit.

    The counters are the arena's rate table in the database (the same sliding window as the
    vote flow's), so the limits hold across all workers: generation costs money.
    """
    limits = tuple((key, limit) for key, limit in ((f"live:voter:{voter}", settings.rate_limit),
                                                    (f"live:ip:{ip}", settings.rate_limit_ip))
                   if limit > 0)
    if not limits:
        return False
    try:
        state.store.count_events(limits).result()
    except RateLimited:
        return True
    return False


# ---- matchmaking -------------------------------------------------------------------------
def pick_models(state: ArenaApp, live: LiveConfig, rng: np.random.Generator,
                ) -> tuple[LiveModel, ...]:
    """Two live models by the arena's matchmaking, in random display order.

    Every pair is available (each live prompt is new); ``active`` matchmaking weighs pairs by
    the live board's scores and standard errors, as for pre-loaded battles.
    """
    names = [m.name for m in live.models]
    m = len(names)
    board = state.arena.fast_board()
    pos = {name: i for i, name in enumerate(board.models)}
    scores = np.array([board.scores[pos[n]] if n in pos else 0.0 for n in names])
    se = np.array([board.se[pos[n]] if n in pos else 10.0 for n in names])
    index = {n: i for i, n in enumerate(names)}
    games = np.zeros((m, m))
    for a, b, *counts in state.store.pair_stats():
        if a in index and b in index:
            games[index[a], index[b]] = games[index[b], index[a]] = float(sum(counts))
    available = ~np.eye(m, dtype=bool)
    cfg = state.config
    chosen = choose_models(available, k=2, mode=cfg.matchmaking, scores=scores, se=se,
                           games=games, explore=cfg.explore, rng=rng)
    assert chosen is not None  # at least two models (checked when the file was read)
    return tuple(live.models[i] for i in chosen)


# ---- server-sent events ------------------------------------------------------------------
def sse(event: str, payload: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(payload)}\n\n"


def render_partial(text: str) -> str:
    """A growing answer to safe HTML (uncached: partial texts are never seen twice)."""
    return sanitize_html(_md.render(text))


def _only(events: list[str]) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        for e in events:
            yield e

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"x-accel-buffering": "no"})


def add_live_routes(app: FastAPI, state: ArenaApp, live: LiveConfig | None = None, *,
                    rng: np.random.Generator | int | None = None) -> None:
    """Register live mode's ``/``, ``/live/battle``, ``/live/b/...``, ``/live/stream/...``.

    Call before the app's own ``/`` route so this one answers it.  ``live`` defaults to the
    models file named by ``state.config.live``; ``rng`` drives the choice of models.
    """
    config = state.config
    if live is None:
        assert config.live is not None
        live = load_live_config(config.live)
    settings = live.settings
    store = state.store
    gen = np.random.default_rng(rng)
    gen_lock = threading.Lock()
    running = {"n": 0}
    prompts_cache: dict[str, Any] = {"version": None, "rows": []}

    def voter_of(request: Request) -> str | None:
        return state.signer.voter_from_cookie(request.cookies.get(VOTER_COOKIE))

    def ticket_of(request: Request, ticket: str) -> tuple[str, str] | None:
        """``(live id, voter)`` when the ticket was issued to this request's voter."""
        voter = voter_of(request)
        live_id = state.signer.live_from_ticket(ticket, voter)
        return None if live_id is None or voter is None else (live_id, voter)

    def examples() -> list[dict[str, str]]:
        version = store.content_version()
        if prompts_cache["version"] != version:
            prompts_cache["rows"] = loaded_prompts(store)
            prompts_cache["version"] = version
        return [{"id": pid, "text": text if len(text) <= 120 else text[:117] + "..."}
                for pid, text in prompts_cache["rows"]]

    @app.get("/", response_class=HTMLResponse)
    def live_page(request: Request) -> Response:
        voter = voter_of(request)
        new = voter is None
        voter = voter or secrets.token_hex(16)
        resp = state.page("live.html", csrf=state.signer.csrf_token(voter),
                          examples=examples(), max_chars=settings.max_prompt_chars)
        if new:
            resp.set_cookie(VOTER_COOKIE, state.signer.voter_cookie(voter),
                            max_age=400 * 86400, httponly=True, samesite="strict",
                            secure=config.secure_cookies)
        return resp

    @app.post("/live/battle")
    def live_battle(request: Request, csrf: str = Form(""), prompt: str = Form(""),
                    example: str = Form("")) -> Response:
        voter = voter_of(request)
        if not _same_origin(request) or not state.signer.check_csrf(csrf, voter):
            return state.error(403, "This form expired or did not come from this arena. "
                                    "Reload the page and try again.")
        assert voter is not None
        text = prompt.strip()
        if not text and example:
            found = loaded_prompt(store, example)
            if found is None:
                return state.error(400, "That prompt is not in this arena's list.")
            text = found
        if not text:
            return state.error(400, "Type a prompt (or pick one from the list) first.")
        if len(text) > settings.max_prompt_chars:
            return state.error(400, f"Your prompt has {len(text)} characters; this arena "
                                    f"accepts up to {settings.max_prompt_chars}.")
        ip = request.client.host if request.client else "unknown"
        if state.limited(request, voter, "battle") or live_limited(state, settings, voter, ip):
            return state.error(429, "Too many live battles in a minute (answers cost money). "
                                    "Take a short break.")
        live_id = put_pending(store, voter, text)
        ticket = state.signer.live_ticket(live_id, voter)
        return RedirectResponse(f"/live/b/{ticket}", status_code=303)

    @app.get("/live/b/{ticket}", response_class=HTMLResponse)
    def live_battle_page(request: Request, ticket: str) -> Response:
        found = ticket_of(request, ticket)
        rec = get_record(store, found[0]) if found else None
        if found is None or rec is None or rec.get("voter") != found[1]:
            return state.error(403, "This live battle is not yours, or it expired.")
        return state.page("live_battle.html", prompt=Markup(render_markdown(rec["prompt"])),
                          labels=LABELS, csrf=state.signer.csrf_token(found[1]),
                          stream=f"/live/stream/{ticket}")

    @app.get("/live/stream/{ticket}")
    async def live_stream(request: Request, ticket: str) -> Response:
        found = ticket_of(request, ticket)
        if found is None:
            return _only([sse("failed", {"message": "This live battle is not yours, or it "
                                                    "expired. Start a new one."})])
        live_id, voter = found
        rec = await run_in_threadpool(claim, store, live_id)
        if rec is None:
            return _only(await run_in_threadpool(replay, live_id, voter))
        if settings.max_concurrent and running["n"] >= settings.max_concurrent:
            msg = "The arena is generating too many answers right now. Try again in a minute."
            await run_in_threadpool(fail, store, live_id, msg)
            return _only([sse("failed", {"message": msg})])
        with gen_lock:
            child = np.random.default_rng(gen.integers(2**63))
        models = await run_in_threadpool(pick_models, state, live, child)
        return StreamingResponse(run(live_id, rec, models), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})

    def replay(live_id: str, voter: str) -> list[str]:
        """Events for a live battle that was already generated (a reload) or failed."""
        rec = get_record(store, live_id)
        if rec is None or rec.get("voter") != voter:
            return [sse("failed", {"message": "Unknown live battle. Start a new one."})]
        if rec["status"] == "failed":
            return [sse("failed", {"message": rec.get("message", "This battle failed.")})]
        if rec["status"] != "done":
            return [sse("failed", {"message": "This battle is being generated in another "
                                              "tab (or was interrupted). Start a new one."})]
        battle = store.get_battle(rec["battle"])
        if battle is None or battle.status != "open":
            return [sse("failed", {"message": "You already voted on this battle."})]
        rows = store.responses_for(battle.prompt_id, battle.models)
        events = [sse("delta", {"slot": i, "html": render_markdown(rows[m]["text"] or "")})
                  for i, m in enumerate(battle.models)]
        return [*events, sse("done", {"token": state.signer.battle_token(battle.id, voter)})]

    async def run(live_id: str, rec: dict[str, Any], models: tuple[LiveModel, ...],
                  ) -> AsyncIterator[str]:
        settled = False
        running["n"] += 1
        try:
            yield ": generating\n\n"
            texts: dict[int, str] = {}
            async with httpx.AsyncClient() as client, \
                    aclosing(generate(client, models, rec["prompt"], settings)) as updates:
                async for item in updates:
                    if item is None:
                        yield ": still generating\n\n"
                    elif isinstance(item, Failure):
                        msg = (f"Response {LABELS[item.slot]} could not be generated: "
                               f"{item.message}. This battle cannot be voted; start a new one.")
                        log.warning("live battle %s failed: %s (model %s)", live_id,
                                    item.message, models[item.slot].name)
                        await run_in_threadpool(fail, store, live_id, msg)
                        settled = True
                        yield sse("failed", {"message": msg})
                        return
                    else:
                        html = (_html(item) if len(item.text) < 2000  # else off the loop
                                else await run_in_threadpool(_html, item))
                        yield sse("delta", {"slot": item.slot, "html": html})
                        if item.done:
                            texts[item.slot] = item.text
            battle = await run_in_threadpool(finish, store, live_id, rec, models, texts)
            settled = True
            yield sse("done", {"token": state.signer.battle_token(battle.id, rec["voter"])})
        finally:
            running["n"] -= 1
            if not settled:  # the page went away (or a bug): never leave it "running"
                with anyio.CancelScope(shield=True):
                    await run_in_threadpool(fail, store, live_id, "The connection closed "
                                            "before both answers were complete. Start a new one.")


def _html(item: Update) -> str:
    return render_markdown(item.text) if item.done else render_partial(item.text)
