"""A fake OpenAI-compatible chat-completions server for tests and benchmarks (127.0.0.1 only).

It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length`` bodies) to answer
``POST /v1/chat/completions`` and can misbehave on purpose, deterministically:

- ``latency``: seconds to wait before every answer;
- ``fail_first``: the first *n* attempts of every distinct request body get ``fail_status``
  (429 or 5xx, with ``Retry-After: retry_after`` when given);
- ``drop_first``: the next *n* attempts are answered by closing the connection;
- ``hang_first``: the next *n* attempts hang for ``hang_seconds`` (longer than a client timeout);
- ``garbage_first``: the next *n* attempts get status 200 with a body that is not JSON;
- ``malformed_rate``: this fraction of request bodies (chosen by hash, so stable across runs)
  gets a reply that no parser understands.

A request with ``"stream": true`` is answered as OpenAI streams: ``text/event-stream`` in
chunked encoding, one ``data: {chat.completion.chunk}`` event per ``stream_chunk_chars``
characters of the reply (``stream_delay`` seconds apart), then ``data: [DONE]``. For tests of
streaming clients, ``hold`` (a ``threading.Event``) pauses every stream after ``hold_after``
chunks until it is set, and ``cut_after`` closes the connection after that many chunks.

Replies are a pure function of the request: a pairwise prompt (one that mentions ``[[A>>B]]``)
gets ``[[<verdict>]]``, a Prometheus prompt (``[RESULT]``) gets ``[RESULT] k``, anything else an
integer 0..4. Run as a process with ``python -m preflab.judge._fake_server --latency 0.05``
(prints the base URL on the first line of stdout).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


def default_reply(messages: list[dict[str, Any]], model: str) -> str:
    """Deterministic judge-like reply for ``messages`` (see module docstring)."""
    text = "\n".join(str(m.get("content", "")) for m in messages)
    h = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    if "[[A>>B]]" in text:
        return f"Both answers considered. My final verdict is: [[{VERDICTS[h % 5]}]]"
    if "[RESULT]" in text:
        return f"Feedback: the response is adequate. [RESULT] {1 + h % 5}"
    if "Evaluation Form" in text or "Step-by-step Evaluation" in text or "scores ONLY" in text:
        return str(h % 5)
    return f"Reference answer {h % 1000}."


@dataclass
class FakeOpenAI:
    """A misbehaving OpenAI-compatible server; use as a context manager (runs in a thread)."""

    latency: float = 0.0
    fail_first: int = 0
    fail_status: int = 429
    retry_after: float | None = None
    drop_first: int = 0
    hang_first: int = 0
    hang_seconds: float = 30.0
    garbage_first: int = 0
    malformed_rate: float = 0.0
    reply: Callable[[list[dict[str, Any]], str], str] = default_reply
    stream_chunk_chars: int = 8
    stream_delay: float = 0.0
    hold: threading.Event | None = None
    hold_after: int = 1
    cut_after: int | None = None
    port: int = 0
    attempts: Counter[str] = field(default_factory=Counter)
    served: list[str] = field(default_factory=list)
    n_requests: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.AbstractServer | None = None
    _thread: threading.Thread | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FakeOpenAI:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.aclose())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    async def aclose(self) -> None:
        """Stop listening, abort open connections and end their handlers."""
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def start(self) -> asyncio.AbstractServer:
        """Start listening on 127.0.0.1 in the running loop."""
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        return server

    # -- HTTP ------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, payload, extra = await self._respond(method, path, body)
                if status == 0:  # drop the connection
                    writer.transport.abort()
                    return
                if isinstance(payload, list):  # a streamed reply: server-sent events
                    if not await self._stream(writer, payload):
                        writer.transport.abort()
                        return
                    continue
                data = payload.encode()
                out = [
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}",
                    "Content-Type: application/json",
                    f"Content-Length: {len(data)}",
                    *extra,
                    "",
                    "",
                ]
                writer.write("\r\n".join(out).encode() + data)
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            asyncio.LimitOverrunError,
            asyncio.CancelledError,
        ):
            pass
        finally:
            writer.transport.abort()
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)

    async def _stream(self, writer: asyncio.StreamWriter, events: list[str]) -> bool:
        """Send ``events`` as one chunked SSE body; False when cut on purpose (``cut_after``)."""
        head = ["HTTP/1.1 200 OK", "Content-Type: text/event-stream", "Cache-Control: no-cache",
                "Transfer-Encoding: chunked", "", ""]
        writer.write("\r\n".join(head).encode())
        for i, event in enumerate(events):
            if self.cut_after is not None and i >= self.cut_after:
                await writer.drain()
                return False
            if self.hold is not None and i == self.hold_after:
                await writer.drain()
                await asyncio.get_running_loop().run_in_executor(None, self.hold.wait, 30.0)
            elif i and self.stream_delay:
                await asyncio.sleep(self.stream_delay)
            data = f"data: {event}\n\n".encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    def _stream_events(self, key: str, model: str, text: str) -> list[str]:
        """The reply as ``chat.completion.chunk`` events, then ``[DONE]``."""
        size = max(1, self.stream_chunk_chars)
        pieces = [text[i:i + size] for i in range(0, len(text), size)]

        def chunk(delta: dict[str, str], finish: str | None) -> str:
            return json.dumps({"id": "chatcmpl-" + key[:12], "object": "chat.completion.chunk",
                               "model": model, "choices": [
                                   {"index": 0, "delta": delta, "finish_reason": finish}]})

        events = [chunk({"role": "assistant", "content": ""}, None)]
        events += [chunk({"content": p}, None) for p in pieces]
        return [*events, chunk({}, "stop"), "[DONE]"]

    async def _respond(
        self, method: str, path: str, body: bytes
    ) -> tuple[int, str | list[str], list[str]]:
        self.n_requests += 1
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            return 404, json.dumps({"error": {"message": f"no route {method} {path}"}}), []
        key = hashlib.sha256(body).hexdigest()
        attempt = self.attempts[key]
        self.attempts[key] += 1
        if attempt < self.fail_first:
            extra = [] if self.retry_after is None else [f"Retry-After: {self.retry_after:g}"]
            return self.fail_status, json.dumps({"error": {"message": "injected failure"}}), extra
        attempt -= self.fail_first
        if attempt < self.drop_first:
            return 0, "", []
        attempt -= self.drop_first
        if attempt < self.hang_first:
            await asyncio.sleep(self.hang_seconds)
            return 0, "", []
        attempt -= self.hang_first
        if attempt < self.garbage_first:
            return 200, '{"choices": [{"message": {"content": "trunc', []
        req = json.loads(body)
        if self.latency:
            await asyncio.sleep(self.latency)
        messages = req.get("messages", [])
        if int(key[:8], 16) / 0xFFFFFFFF < self.malformed_rate:
            text = "I would rather not say which is better."
        else:
            text = self.reply(messages, str(req.get("model", "")))
        self.served.append(key)
        if req.get("stream"):
            return 200, self._stream_events(key, str(req.get("model", "")), text), []
        n_in = sum(len(str(m.get("content", ""))) for m in messages) // 4 + 1
        resp = {
            "id": "chatcmpl-" + key[:12],
            "object": "chat.completion",
            "model": req.get("model"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {
                "prompt_tokens": n_in,
                "completion_tokens": len(text) // 4 + 1,
                "total_tokens": n_in + len(text) // 4 + 1,
            },
        }
        return 200, json.dumps(resp), []


def main(argv: list[str] | None = None) -> None:
    """Run the fake server in the foreground; the first stdout line is its base URL."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--malformed-rate", type=float, default=0.0)
    args = p.parse_args(argv)
    server = FakeOpenAI(
        latency=args.latency,
        fail_first=args.fail_first,
        malformed_rate=args.malformed_rate,
        port=args.port,
    )

    async def serve() -> None:
        srv = await server.start()
        print(server.url, flush=True)  # noqa: T201 - a process entry point, not library code
        async with srv:
            await srv.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
