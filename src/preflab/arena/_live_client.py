"""Live mode's calls: stream answers from OpenAI-compatible chat endpoints, two at once.

One call is ``POST {base_url}/chat/completions`` with ``"stream": true``; the server answers
with server-sent events, one ``data: {chat.completion.chunk}`` per piece of text
(``choices[0].delta.content``) and a final ``data: [DONE]`` (OpenAI API reference, "Streaming";
vLLM, llama.cpp, Ollama and TGI speak the same protocol).  A server that ignores ``stream``
and answers with one JSON completion is accepted too.

Failures become :class:`GenerationError` with a message fit for the voter: it says what went
wrong (timeout, refused connection, HTTP status, broken stream) but never which model or
endpoint it was, since the battle is still blind.  Details go to the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from preflab._errors import PreflabError
from preflab.arena._live_config import LiveModel, LiveSettings

log = logging.getLogger(__name__)

_STATUS = {401: "refused the arena's API key", 403: "refused the arena's API key",
           404: "does not know this model or route", 429: "is rate-limiting the arena"}


class GenerationError(PreflabError):
    """An answer could not be generated; ``str()`` is safe to show to the voter."""


@dataclass(frozen=True, slots=True)
class Update:
    """The text of one slot so far; ``done`` on the last update of a complete answer."""

    slot: int
    text: str
    done: bool = False


@dataclass(frozen=True, slots=True)
class Failure:
    """Slot ``slot`` failed with ``message`` (safe to show)."""

    slot: int
    message: str


def _messages(model: LiveModel, prompt: str) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": model.system}] if model.system else []
    return [*msgs, {"role": "user", "content": prompt}]


def _piece(event: str) -> tuple[str | None, bool]:
    """Text of one SSE ``data`` payload and whether it finished the answer."""
    try:
        obj = json.loads(event)
    except json.JSONDecodeError as exc:
        raise GenerationError("the model's server sent a malformed stream") from exc
    if not isinstance(obj, dict):
        raise GenerationError("the model's server sent a malformed stream")
    if obj.get("error"):
        log.warning("live endpoint error mid-stream: %.500s", event)
        raise GenerationError("the model's server reported an error while answering")
    choices = obj.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return None, False
    delta = choices[0].get("delta") or {}
    text = delta.get("content") if isinstance(delta, dict) else None
    return (text if isinstance(text, str) else None), bool(choices[0].get("finish_reason"))


async def _events(resp: httpx.Response) -> AsyncIterator[str]:
    """The ``data`` payloads of an SSE body (multi-line data joined by newlines)."""
    data: list[str] = []
    async for line in resp.aiter_lines():
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
        # comments (":"), event:, id: and retry: lines carry nothing we need
    if data:
        yield "\n".join(data)


async def stream_answer(client: httpx.AsyncClient, model: LiveModel, prompt: str, *,
                        timeout: float) -> AsyncGenerator[str, None]:
    """Yield the pieces of ``model``'s answer to ``prompt`` as they arrive.

    Raises :class:`GenerationError` on HTTP errors, refused connections, a read timeout
    (``timeout`` seconds without data) or a stream cut before ``[DONE]``/``finish_reason``.
    """
    body: dict[str, Any] = {**model.params, "model": model.model,
                            "messages": _messages(model, prompt), "stream": True}
    headers = {"accept": "text/event-stream"}
    key = model.api_key()
    if key:
        headers["authorization"] = f"Bearer {key}"
    url = model.base_url + "/chat/completions"
    limits = httpx.Timeout(timeout, connect=min(timeout, 10.0))
    try:
        async with client.stream("POST", url, json=body, headers=headers,
                                 timeout=limits) as resp:
            if resp.status_code != 200:
                detail = (await resp.aread())[:500]
                log.warning("live model %s: HTTP %s from %s: %r", model.name,
                            resp.status_code, url, detail)
                why = _STATUS.get(resp.status_code, "failed")
                raise GenerationError(f"the model's server answered HTTP {resp.status_code} "
                                      f"({why})")
            if "text/event-stream" not in resp.headers.get("content-type", ""):
                yield _whole(await resp.aread())
                return
            finished = False
            async for event in _events(resp):
                if event.strip() == "[DONE]":
                    return
                text, end = _piece(event)
                finished = finished or end
                if text:
                    yield text
            if not finished:
                raise GenerationError("the model's server closed the connection mid-answer")
    except httpx.TimeoutException as exc:
        log.warning("live model %s: timeout at %s: %r", model.name, url, exc)
        raise GenerationError(f"the model's server did not answer within {timeout:g} s") from exc
    except httpx.ConnectError as exc:
        log.warning("live model %s: cannot connect to %s: %r", model.name, url, exc)
        raise GenerationError("the model's server could not be reached") from exc
    except httpx.HTTPError as exc:
        log.warning("live model %s: %s failed: %r", model.name, url, exc)
        raise GenerationError("the connection to the model's server broke") from exc


def _whole(raw: bytes) -> str:
    """The answer of a non-streamed completion."""
    try:
        text = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise GenerationError("the model's server sent an answer that is not a completion") \
            from exc
    if not isinstance(text, str):
        raise GenerationError("the model's server sent an answer without text")
    return text


def _spacing(n_chars: int, interval: float) -> float:
    """Seconds between two updates of one answer of ``n_chars`` characters so far.

    Every update re-renders the whole answer (about 2 us of CPU per character with
    markdown-it and nh3), so the spacing grows with the length: ``n / 20000`` s keeps the
    re-rendering under ~4% of a core per streaming answer however long it gets.
    ``interval = 0`` sends every piece (tests, debugging).
    """
    return max(interval, n_chars / 20000) if interval > 0 else 0.0


async def _run_slot(queue: asyncio.Queue[Update | Failure], client: httpx.AsyncClient,
                    slot: int, model: LiveModel, prompt: str, settings: LiveSettings) -> None:
    timeout = model.timeout or settings.timeout
    text, last = "", 0.0
    cut = False
    try:
        with anyio.fail_after(timeout):
            async with aclosing(stream_answer(client, model, prompt, timeout=timeout)) as pieces:
                async for piece in pieces:
                    text += piece
                    if len(text) >= settings.max_answer_chars:
                        text, cut = text[:settings.max_answer_chars], True
                        break
                    now = time.monotonic()
                    if now - last >= _spacing(len(text), settings.update_interval):
                        last = now
                        await queue.put(Update(slot, text))
    except GenerationError as exc:
        await queue.put(Failure(slot, str(exc)))
        return
    except TimeoutError:
        log.warning("live model %s: no complete answer within %g s", model.name, timeout)
        await queue.put(Failure(slot, f"the answer took longer than {timeout:g} s"))
        return
    if not text.strip():
        await queue.put(Failure(slot, "the model's server sent an empty answer"))
        return
    if cut:
        text += f"\n\n*[answer cut at {settings.max_answer_chars} characters]*"
    await queue.put(Update(slot, text, done=True))


async def generate(client: httpx.AsyncClient, models: tuple[LiveModel, ...], prompt: str,
                   settings: LiveSettings, *, keepalive: float = 15.0,
                   ) -> AsyncGenerator[Update | Failure | None, None]:
    """Stream every model's answer to ``prompt`` at once; updates arrive interleaved.

    Yields :class:`Update` (text so far, at most every ``settings.update_interval`` seconds
    per slot, and once with ``done=True``) until every slot is done, or stops at the first
    :class:`Failure` and cancels the other calls (a failed battle cannot be voted, so the
    rest of the other answer would only cost money).  Yields ``None`` after ``keepalive``
    seconds without news, so the caller can keep its own connection alive.
    """
    queue: asyncio.Queue[Update | Failure] = asyncio.Queue()
    tasks = [asyncio.create_task(_run_slot(queue, client, i, m, prompt, settings))
             for i, m in enumerate(models)]
    pending = len(tasks)
    try:
        while pending:
            try:
                item = await asyncio.wait_for(queue.get(), keepalive)
            except asyncio.TimeoutError:
                yield None
                continue
            yield item
            if isinstance(item, Failure):
                return
            if item.done:
                pending -= 1
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
