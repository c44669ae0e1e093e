"""Async client for OpenAI-compatible ``/chat/completions`` with rate limits and retries.

Retries: 429, 5xx, timeouts and connection errors are retried up to ``max_retries`` times with
exponential backoff and full jitter, ``U(0, min(backoff_max, backoff_base * 2**attempt))``; a
``Retry-After`` header (seconds or an HTTP date) sets a floor on the wait. Other HTTP errors
(400, 401, 404, ...) fail at once. Rate limits are token buckets refilled continuously: one for
requests per minute, one for (estimated) tokens per minute.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from preflab.judge._transport import TransportError, make_transports

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


class CallError(Exception):
    """A call that did not produce an answer (after retries, or a non-retryable error)."""

    def __init__(self, message: str, *, attempts: int, retryable: bool) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class ChatResult:
    """One answer: text, token usage (from the server, or estimated as chars/4), latency, tries."""

    text: str
    input_tokens: int
    output_tokens: int
    latency: float
    attempts: int


class TokenBucket:
    """Continuous-refill token bucket holding at most ``per_minute`` tokens."""

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = per_minute
        self.tokens = per_minute
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self, n: float) -> None:
        """Wait until ``n`` tokens are available (``n`` is capped at the capacity) and take them."""
        n = min(n, self.capacity)
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                await asyncio.sleep((n - self.tokens) / self.rate)


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ChatClient:
    """Bounded, rate-limited, retrying chat-completions client (use as an async context manager).

    Parameters
    ----------
    base_url, api_key:
        Endpoint (``.../v1``) and bearer key (``None``: no ``Authorization`` header).
    concurrency:
        Number of connection slots (the runner runs one worker per slot).
    transport:
        ``auto`` (lean asyncio HTTP/1.1 for ``http://``, ``httpx`` for ``https://``),
        ``httpx`` or ``stream``.
    rpm, tpm:
        Requests and tokens per minute (``None``: unlimited). Tokens of a request are
        estimated as ``chars/4 + max_tokens`` before it is sent.
    rng:
        Seed or ``random.Random`` for the jitter.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        rpm: float | None = None,
        tpm: float | None = None,
        rng: random.Random | int | None = None,
        transport: str = "auto",
    ) -> None:
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._transports = make_transports(
            base_url, headers, timeout, max(1, concurrency), transport
        )
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._rpm = TokenBucket(rpm) if rpm else None
        self._tpm = TokenBucket(tpm) if tpm else None
        self._rng = rng if isinstance(rng, random.Random) else random.Random(rng)

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in self._transports:
            await t.aclose()

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        cap = min(self.backoff_max, self.backoff_base * (2.0**attempt))
        wait = self._rng.uniform(0.0, cap)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.backoff_max * 10))
        return wait

    async def chat(
        self,
        model: str,
        messages: Sequence[dict[str, str]],
        params: dict[str, Any],
        *,
        slot: int = 0,
    ) -> ChatResult:
        """One chat completion, retried as described in the module docstring.

        ``slot`` picks the connection (callers running ``concurrency`` workers pass the
        worker's index, so each worker keeps one keep-alive connection).

        Raises :class:`CallError` when no answer could be obtained.
        """
        body = json.dumps(
            {"model": model, "messages": list(messages), **params}, ensure_ascii=False
        ).encode("utf-8")
        est = sum(len(m.get("content", "")) for m in messages) / 4 + float(
            params.get("max_tokens", 0)
        )
        transport = self._transports[slot % len(self._transports)]
        attempt = 0
        while True:
            if self._rpm:
                await self._rpm.take(1)
            if self._tpm:
                await self._tpm.take(est)
            t0 = time.perf_counter()
            retry_after: float | None = None
            try:
                status, headers, data = await transport.post("chat/completions", body)
                if status == 200:
                    return self._result(data, messages, time.perf_counter() - t0, attempt + 1)
                problem = f"HTTP {status}: {data[:200].decode('utf-8', 'replace')}"
                retryable = status in RETRY_STATUS or status >= 500
                retry_after = retry_after_seconds(headers.get("retry-after"))
            except TransportError as exc:
                problem = str(exc)
                retryable = True
            except ValueError as exc:  # malformed JSON body from the server
                problem = f"bad response body: {exc}"
                retryable = True
            if not retryable or attempt >= self.max_retries:
                raise CallError(problem, attempts=attempt + 1, retryable=retryable)
            wait = self.backoff(attempt, retry_after)
            logger.info("retrying in %.2fs after %s (attempt %d)", wait, problem, attempt + 1)
            await asyncio.sleep(wait)
            attempt += 1

    @staticmethod
    def _result(
        body: bytes, messages: Sequence[dict[str, str]], latency: float, attempts: int
    ) -> ChatResult:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {str(data)[:200]}")
        try:
            text = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"no choices[0].message.content in {str(data)[:200]}") from exc
        text = "" if text is None else str(text)
        usage = data.get("usage") or {}
        n_in = usage.get("prompt_tokens")
        n_out = usage.get("completion_tokens")
        if n_in is None:
            n_in = sum(len(m.get("content", "")) for m in messages) // 4
        if n_out is None:
            n_out = len(text) // 4
        return ChatResult(text, int(n_in), int(n_out), latency, attempts)
