"""`preflab arena load / export / reset` and `serve --demo`, end to end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from arena_helpers import BASE, first_page, form_fields, make_client
from browser_helpers import free_port
from click.testing import CliRunner

from preflab import rank
from preflab.arena import demo_responses
from preflab.cli._arena import arena


def _vote_some(url: str, n: int, k: int = 2) -> None:
    c = make_client(url, k=k)
    for _ in range(n):
        page = c.get("/")
        fields = form_fields(page.text)
        if k == 2:
            c.post("/vote", data={**fields, "choice": "a"})
        else:
            c.post("/rank", data={**fields, **{f"place_{i}": str(i + 1) for i in range(k)}})
    c.app.state.arena.store.dispose()  # type: ignore[attr-defined]


def test_load_export_reset(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    runner = CliRunner()
    responses = tmp_path / "r.parquet"
    pq.write_table(pa.table({
        "prompt_id": [f"p{i}" for i in range(5) for _ in range(3)],
        "model": ["x", "y", "z"] * 5,
        "text": [f"t{i}" for i in range(15)],
    }), responses)
    r = runner.invoke(arena, ["load", str(responses), "--db", url])
    assert r.exit_code == 0, r.output
    again = runner.invoke(arena, ["load", str(responses), "--db", url])
    assert again.exit_code == 1 and "already loaded" in again.output and "--replace" in again.output
    assert runner.invoke(arena, ["load", str(responses), "--db", url, "--replace"]).exit_code == 0
    _vote_some(url, 4)
    _vote_some(url, 2, k=3)
    out = tmp_path / "votes.parquet"
    r = runner.invoke(arena, ["export", "-o", str(out), "--db", url])
    assert r.exit_code == 0, r.output
    comp = pq.read_table(out)
    assert comp.num_rows == 4
    assert set(comp.column_names) >= {"prompt_id", "model_a", "model_b", "winner", "judge"}
    assert set(comp.column("winner").to_pylist()) == {"model_a"}
    ranks = pq.read_table(tmp_path / "votes.rankings.parquet")
    assert ranks.num_rows == 2 and len(ranks.column("models").to_pylist()[0]) == 3
    ratings = rank.fit_bradley_terry(comp, prior=1.0)  # `preflab rank` reads the export
    assert set(ratings.models) <= {"x", "y", "z"}
    r = runner.invoke(arena, ["reset", "--db", url, "--yes"])
    assert r.exit_code == 0
    r = runner.invoke(arena, ["export", "-o", str(out), "--db", url])
    assert pq.read_table(out).num_rows == 0


def test_load_error_is_a_clean_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt_id,model\np1,m1\n")
    r = CliRunner().invoke(arena, ["load", str(bad), "--db", f"sqlite:///{tmp_path / 'a.db'}"])
    assert r.exit_code == 1 and "neither 'text' nor 'image'" in r.output
    assert "Traceback" not in r.output


def test_serve_demo_one_command(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "preflab", "arena", "serve", "--demo", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        page = first_page(base, proc)
        assert page.status_code == 200 and "Response A" in page.text
        assert (tmp_path / "preflab-arena-demo.sqlite").exists()
        with httpx.Client(base_url=base, cookies=page.cookies) as client:
            fields = form_fields(page.text)
            done = client.post("/vote", data={**fields, "choice": "b"})
            assert done.status_code == 200
            models = re.findall(r'class="model">([^<]+)<', done.text)
            board = client.get("/leaderboard.json").json()
        assert len(board["models"]) == 59
        assert {m["model"] for m in board["models"] if m["games"] > 0} == set(models)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_demo_sample_is_bundled() -> None:
    table = pq.read_table(demo_responses())
    assert table.num_rows == 750
    assert set(table.column_names) == {"prompt_id", "model", "text", "prompt"}
    assert BASE.startswith("http://127.0.0.1")
