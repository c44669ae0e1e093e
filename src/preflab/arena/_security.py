"""Signed tokens, rate limits and security headers for the arena.

* **Voter id**: a random id in an ``HttpOnly; SameSite=Strict`` cookie, signed so it cannot be
  forged (a forged id could impersonate another voter's open battles).
* **CSRF**: every form carries a token signed over the voter id (salt ``csrf``); a POST is
  accepted only if it unsigns to the cookie's voter id, and only from the arena's own origin
  when the browser sends ``Origin``.
* **Battle token**: signed ``(battle id, voter id)`` with a lifetime.  The models live only in
  the database, so the page never carries them before the vote; the token is bound to the
  voter, and single use is enforced by the database (a conditional update admits one vote).
* **Rate limits**: sliding one-minute windows per voter and per client IP, in memory per
  worker process (with W workers a client can reach at most W times the limit).
* **Headers**: a strict Content-Security-Policy (scripts and styles only from ``/static``; no
  inline script, no ``eval``), ``frame-ancestors 'none'``, ``nosniff``, referrers only to
  this origin (``no-referrer`` would make browsers send ``Origin: null`` on our own forms),
  and ``Cache-Control: no-store`` on pages.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from collections.abc import Iterable

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Signer:
    """Sign and check the voter cookie, CSRF tokens and battle tokens with one secret."""

    def __init__(self, secret: str, *, battle_max_age: float = 3600.0) -> None:
        self._voter = URLSafeTimedSerializer(secret, salt="preflab-arena-voter")
        self._csrf = URLSafeTimedSerializer(secret, salt="preflab-arena-csrf")
        self._battle = URLSafeTimedSerializer(secret, salt="preflab-arena-battle")
        self.battle_max_age = battle_max_age

    def voter_cookie(self, voter: str) -> str:
        return self._voter.dumps(voter)

    def voter_from_cookie(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            value = self._voter.loads(cookie, max_age=400 * 86400)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def csrf_token(self, voter: str) -> str:
        return self._csrf.dumps(voter)

    def check_csrf(self, token: str | None, voter: str | None) -> bool:
        if not token or not voter:
            return False
        try:
            value = self._csrf.loads(token, max_age=86400)
        except BadSignature:
            return False
        return isinstance(value, str) and hmac.compare_digest(value, voter)

    def battle_token(self, battle_id: str, voter: str) -> str:
        return self._battle.dumps([battle_id, voter])

    def battle_from_token(self, token: str | None, voter: str | None) -> str | None:
        """The battle id if ``token`` is genuine, fresh and issued to ``voter``; else ``None``."""
        if not token or not voter:
            return None
        try:
            value = self._battle.loads(token, max_age=int(self.battle_max_age))
        except BadSignature:
            return None
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, str) for v in value)):
            return None
        battle_id, owner = value
        return battle_id if hmac.compare_digest(owner, voter) else None


class RateLimiter:
    """Sliding-window limit: at most ``limit`` events per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    def allow(self, key: str) -> tuple[bool, float]:
        """Record an event for ``key``; returns ``(allowed, seconds to wait if not)``."""
        if self.limit <= 0:
            return True, 0.0
        now = time.monotonic()
        with self._lock:
            if now - self._last_sweep > self.window:
                self._sweep(now)
            q = self._events.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False, q[0] + self.window - now
            q.append(now)
            return True, 0.0

    def _sweep(self, now: float) -> None:
        stale = [k for k, q in self._events.items() if not q or q[-1] <= now - self.window]
        for k in stale:
            del self._events[k]
        self._last_sweep = now


def content_security_policy(image_hosts: Iterable[str] = ()) -> str:
    img = " ".join(["'self'", *image_hosts])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    )


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, *, csp: str, hsts: bool = False) -> None:
        self.app = app
        headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if hsts:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                names = {k.lower() for k, _ in raw}
                raw += [h for h in self.headers if h[0] not in names]
                if not is_static and b"cache-control" not in names:
                    raw.append((b"cache-control", b"no-store"))
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_headers)
