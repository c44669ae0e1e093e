"""Admin endpoints behind a bearer token: load content, export votes, reset.

``Authorization: Bearer <token>`` is compared in constant time; without a configured token
the endpoints answer 404, as if they did not exist.
"""

from __future__ import annotations

import hmac
import io
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from preflab._errors import PreflabError
from preflab.arena._config import ArenaConfig
from preflab.arena._store import Store
from preflab.arena._tables import comparisons_table, load_file, rankings_table

MAX_UPLOAD = 64 * 1024 * 1024
_SUFFIX = {"application/vnd.apache.parquet": ".parquet", "application/x-parquet": ".parquet",
           "application/jsonl": ".jsonl", "application/x-ndjson": ".jsonl",
           "application/json": ".json", "text/csv": ".csv"}


def add_admin_routes(app: FastAPI, store: Store, config: ArenaConfig) -> None:
    """Register ``/admin/load``, ``/admin/export`` and ``/admin/reset`` on ``app``."""

    def denied(request: Request) -> Response | None:
        if not config.admin_token:
            return JSONResponse({"error": "not found"}, status_code=404)
        auth = request.headers.get("authorization", "")
        given = auth[7:] if auth.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), config.admin_token.encode()):
            return JSONResponse({"error": "admin token required"}, status_code=401,
                                headers={"www-authenticate": "Bearer"})
        return None

    @app.post("/admin/load")
    async def admin_load(request: Request, replace: bool = False) -> Response:
        if (err := denied(request)) is not None:
            return err
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        suffix = _SUFFIX.get(ctype)
        if suffix is None:
            return JSONResponse({"error": f"send one of {sorted(_SUFFIX)}"}, status_code=415)
        body = await request.body()
        if len(body) > MAX_UPLOAD:
            return JSONResponse({"error": "upload too large"}, status_code=413)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(body)
            try:
                n = load_file(store, path, replace=replace)
            except PreflabError as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
        return JSONResponse({"loaded": n})

    @app.get("/admin/export")
    def admin_export(request: Request, table: str = "comparisons") -> Response:
        if (err := denied(request)) is not None:
            return err
        if table not in ("comparisons", "rankings"):
            return JSONResponse({"error": "table is comparisons or rankings"}, status_code=400)
        data: pa.Table = comparisons_table(store) if table == "comparisons" \
            else rankings_table(store)
        buf = io.BytesIO()
        pq.write_table(data, buf)
        return Response(buf.getvalue(), media_type="application/vnd.apache.parquet",
                        headers={"content-disposition": f'attachment; filename="{table}.parquet"'})

    @app.post("/admin/reset")
    def admin_reset(request: Request, content: bool = False) -> Response:
        if (err := denied(request)) is not None:
            return err
        store.reset(content=content)
        return JSONResponse({"reset": True, "content": content})
