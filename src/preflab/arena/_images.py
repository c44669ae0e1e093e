"""Images of a battle, served through opaque per-battle URLs (``/img/<token>/<slot>``).

A local file is served only from the configured image roots.  A remote image (an ``http(s)``
URL on one of the allowed ``image_hosts``) is fetched by the server and passed on, never
linked: its URL (a path like ``/model-x/42.png``), the host it sits on and the request
timing could all tell the voter which model made it before the vote, and the voter's browser
would also hand the image host its IP address.  The page's Content-Security-Policy therefore
allows images from the arena itself only.

The proxy follows no redirects, accepts only raster ``image/*`` types (no SVG: it can carry
script), stops at ``MAX_IMAGE`` bytes and a ``TIMEOUT``.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from starlette.responses import FileResponse, Response

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif"}
IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif", "image/avif"}
MAX_IMAGE = 20 * 1024 * 1024
TIMEOUT = 10.0
_CACHE = {"cache-control": "private, max-age=3600", "content-disposition": "inline"}


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def local_image(path_s: str, roots: list[Path]) -> Response | None:
    """A file under one of ``roots`` with an image suffix, else ``None``."""
    path = Path(path_s).resolve()
    if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file() or not any(
            path.is_relative_to(root) for root in roots):
        return None
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media, headers=_CACHE)


async def remote_image(client: httpx.AsyncClient, url: str,
                       hosts: tuple[str, ...]) -> Response | None:
    """The image at ``url`` (on an allowed host), fetched by the server; ``None`` on failure."""
    if origin(url) not in hosts:
        return None
    try:
        async with client.stream("GET", url, follow_redirects=False,
                                 timeout=TIMEOUT) as reply:
            media = reply.headers.get("content-type", "").split(";")[0].strip().lower()
            if reply.status_code != 200 or media not in IMAGE_TYPES:
                return None
            body = bytearray()
            async for chunk in reply.aiter_bytes():
                body += chunk
                if len(body) > MAX_IMAGE:
                    return None
    except httpx.HTTPError:
        return None
    return Response(bytes(body), media_type=media, headers=_CACHE)
