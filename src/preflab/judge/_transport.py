"""HTTP transports for the chat client: ``httpx`` (any URL) and a lean asyncio HTTP/1.1 one.

The lean transport speaks plain ``http://`` only (local vLLM, llama.cpp, Ollama, TGI servers,
where thousands of calls a minute make client overhead matter): one keep-alive connection,
``Content-Length`` or ``chunked`` responses, reconnect when the server closed the connection.
It costs ~0.05 ms of CPU a request against ~0.9 ms for ``httpx`` (benchmarks/judge_throughput.py).
Both raise :class:`TransportError` for anything that is not an HTTP response.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from typing import Protocol
from urllib.parse import urlsplit


def missing_extra(package: str) -> ImportError:
    """The error raised when an optional dependency of the judge extra is missing."""
    return ImportError(f"{package} is needed for preflab.judge: pip install 'preflab[judge]'")


try:
    import httpx
except ImportError as _exc:  # pragma: no cover - httpx is in the judge extra
    raise missing_extra("httpx") from _exc


class TransportError(Exception):
    """No HTTP response: connection refused/dropped, timeout, garbled response."""


class Transport(Protocol):
    """Posts a JSON body and returns ``(status, lower-cased headers, body)``."""

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]: ...

    async def aclose(self) -> None: ...


class HttpxTransport:
    """An ``httpx.AsyncClient`` with a single connection (httpcore pools scan linearly)."""

    def __init__(
        self, base_url: str, headers: dict[str, str], timeout: float, verify: ssl.SSLContext | bool
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=timeout,
            verify=verify,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            resp = await self._client.post(path, content=body)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content

    async def aclose(self) -> None:
        await self._client.aclose()


class StreamTransport:
    """Minimal keep-alive HTTP/1.1 client on asyncio streams (``http://`` only)."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        u = urlsplit(base_url)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"the stream transport needs an http:// URL, not {base_url!r}")
        self.host = u.hostname
        self.port = u.port or 80
        self.prefix = u.path.rstrip("/") + "/"
        self.timeout = timeout
        host_header = self.host if u.port is None else f"{self.host}:{u.port}"
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host_header, **headers}.items())
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            if sys.version_info >= (3, 11):  # no extra task per request
                async with asyncio.timeout(self.timeout):
                    return await self._post(path, body)
            return await asyncio.wait_for(self._post(path, body), self.timeout)
        except (TimeoutError, asyncio.TimeoutError) as exc:
            self._drop()
            raise TransportError(f"timed out after {self.timeout:g}s") from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self._drop()
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    async def _post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        request = (
            f"POST {self.prefix}{path} HTTP/1.1\r\n{self._head}Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body
        reused = self._conn is not None
        try:
            return await self._exchange(request)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not reused:
                raise
            self._drop()  # the server closed an idle keep-alive connection: reconnect once
            return await self._exchange(request)

    async def _exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        if self._conn is None:
            self._conn = await asyncio.open_connection(self.host, self.port, limit=1 << 24)
        reader, writer = self._conn
        writer.write(request)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        parts = head[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ValueError(f"not an HTTP response: {head[0][:80]!r}")
        status = int(parts[1])
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in head[1:] if ln)
        }
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            data = b"".join(chunks)
        elif "content-length" in headers:
            data = await reader.readexactly(int(headers["content-length"]))
        else:  # body until close
            data = await reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close" or parts[0] == "HTTP/1.0":
            self._drop()
        return status, headers, data

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn[1].transport.abort()
            self._conn = None

    async def aclose(self) -> None:
        self._drop()


def _proxied(url: str) -> bool:
    """Whether an HTTP proxy from the environment applies to ``url`` (then httpx is used)."""
    from urllib.request import getproxies, proxy_bypass

    host = urlsplit(url).hostname or ""
    return "http" in getproxies() and not proxy_bypass(host)


def make_transports(
    base_url: str, headers: dict[str, str], timeout: float, n: int, kind: str = "auto"
) -> list[Transport]:
    """``n`` transports: under ``auto``, ``stream`` for ``http://`` URLs not behind an
    environment proxy (``HTTP_PROXY``), else ``httpx`` (which honours proxies)."""
    if kind not in ("auto", "httpx", "stream"):
        raise ValueError(f"transport must be auto, httpx or stream, not {kind!r}")
    use_stream = kind == "stream" or (
        kind == "auto" and base_url.startswith("http://") and not _proxied(base_url))
    if use_stream:
        return [StreamTransport(base_url, headers, timeout) for _ in range(n)]
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context() if base_url.startswith("https") else False
    )
    return [HttpxTransport(base_url, headers, timeout, verify) for _ in range(n)]
