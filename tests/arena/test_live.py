"""Live mode: prompts go to two OpenAI-compatible endpoints (a local fake) and both answers
stream to the page; then the usual blind vote, reveal, export and leaderboard."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from arena_helpers import BASE, first_page, make_client, make_rows
from browser_helpers import chromium, console_errors, detached, free_port, live_server, need_browser
from click.testing import CliRunner
from fastapi.testclient import TestClient
from test_xss import CORPUS

from preflab._errors import DataError
from preflab.arena import ArenaConfig, comparisons_table
from preflab.arena._live_config import load_live_config
from preflab.cli._arena import arena
from preflab.judge._fake_server import FakeOpenAI

NAMES = ("alpha", "bravo", "charlie")
LONG = ("Here is a **bold** start, then a list:\n\n- one item\n- another item\n\n"
        "and a `code` span to finish the answer properly.")


def answer(messages: list[dict[str, Any]], model: str) -> str:
    """A deterministic answer that never names the model."""
    return f"{LONG} (variant {sum(map(ord, model)) % 97})"


def models_toml(path: Path, urls: dict[str, str], *, live: str = "", extra: str = "") -> Path:
    lines = ["[live]", "update_interval = 0", "timeout = 20", live]
    for name, url in urls.items():
        lines += ["[[model]]", f'name = "{name}"', f'base_url = "{url}"', f'model = "id-{name}"',
                  'api_key_env = ""', "params = { temperature = 0.0, max_tokens = 64 }", extra]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a server-sent event stream (comments skipped)."""
    event, data = "message", ""
    for line in lines:
        if not line:
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


def start_battle(c: TestClient, prompt: str = "Explain *streaming*.") -> str:
    """Open the prompt page, send a prompt; returns the battle page's stream URL."""
    page = c.get("/")
    assert page.status_code == 200 and 'id="live-form"' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    resp = c.post("/live/battle", data={"csrf": csrf.group(1), "prompt": prompt},
                  follow_redirects=False)
    assert resp.status_code == 303, resp.text
    battle = c.get(resp.headers["location"])
    assert battle.status_code == 200
    assert not any(n in battle.text for n in NAMES)  # blind before the vote
    stream = re.search(r'data-stream="([^"]+)"', battle.text)
    assert stream
    return stream.group(1)


def events(c: TestClient, stream: str) -> list[tuple[str, dict[str, Any]]]:
    with c.stream("GET", stream) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert "content-security-policy" in r.headers
        return list(read_sse(r.iter_lines()))


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=answer, stream_chunk_chars=16) as server:
        yield server


@pytest.fixture
def live_client(db_url: str, tmp_path: Path, fake: FakeOpenAI) -> Iterator[TestClient]:
    toml = models_toml(tmp_path / "models.toml", dict.fromkeys(NAMES, fake.url))
    c = make_client(db_url, live=str(toml))
    c.app.state.arena.store.load_responses(make_rows(2))  # type: ignore[attr-defined]
    with c:
        yield c
    c.app.state.arena.store.dispose()  # type: ignore[attr-defined]


def test_vote_flow_reveal_export_and_leaderboard(live_client: TestClient, fake: FakeOpenAI,
                                                 tmp_path: Path, db_url: str) -> None:
    c = live_client
    got = events(c, start_battle(c))
    kinds = [k for k, _ in got]
    assert kinds[-1] == "done" and kinds.count("done") == 1 and "failed" not in kinds
    assert kinds.count("delta") > 2  # several updates per answer, not one final blob
    finals: dict[int, str] = {}
    for kind, data in got:
        if kind == "delta":
            finals[data["slot"]] = data["html"]
    assert set(finals) == {0, 1} and all("<strong>bold</strong>" in h for h in finals.values())
    assert not any(n in json.dumps(got) for n in NAMES)  # events carry slots, never names

    store = c.app.state.arena.store  # type: ignore[attr-defined]
    live_rows = [r for r in store.catalog() if r[1].startswith("live-")]
    assert len(live_rows) == 2
    prompt_id, models = live_rows[0][1], [r[2] for r in live_rows]
    stored = store.responses_for(prompt_id, models)
    assert all(r["prompt"] == "Explain *streaming*." and r["category"] == "live"
               and r["text"].startswith("Here is a **bold**") for r in stored.values())
    # the typed prompt is never served to other voters; its models are on the board
    catalog = c.app.state.arena.arena.catalog()  # type: ignore[attr-defined]
    assert not any(p.startswith("live-") for p in catalog.prompts)
    assert set(models) <= set(catalog.models)

    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text)
    assert csrf
    token = got[-1][1]["token"]
    reveal = c.post("/vote", data={"token": token, "csrf": csrf.group(1), "choice": "b"})
    assert reveal.status_code == 200 and 'id="reveal"' in reveal.text
    shown = re.findall(r'<strong class="model">([^<]+)</strong>', reveal.text)
    assert sorted(shown) == sorted(models)
    again = c.post("/vote", data={"token": token, "csrf": csrf.group(1), "choice": "a"})
    assert again.status_code == 409  # single use, as for pre-loaded battles

    table = comparisons_table(store).to_pylist()
    assert len(table) == 1 and table[0]["prompt_id"] == prompt_id
    assert [table[0]["model_a"], table[0]["model_b"]] == shown and table[0]["winner"] == "model_b"
    board = {m["model"]: m for m in c.get("/leaderboard.json").json()["models"]}
    assert all(board[m]["games"] == 1.0 for m in models)

    out = tmp_path / "votes.parquet"
    res = CliRunner().invoke(arena, ["export", "-o", str(out), "--db", db_url])
    assert res.exit_code == 0, res.output
    exported = pq.read_table(out).to_pylist()
    assert [(r["prompt_id"], r["winner"]) for r in exported] == [(prompt_id, "model_b")]

    # a reload replays the stored answers (no second generation) and, once voted, says so
    n = fake.n_requests
    assert events(c, start_battle(c, "Second prompt"))[-1][0] == "done"
    assert fake.n_requests == n + 2


def test_reload_replays_without_paying_twice(live_client: TestClient, fake: FakeOpenAI) -> None:
    c = live_client
    stream = start_battle(c)
    first = events(c, stream)
    n = fake.n_requests
    second = events(c, stream)
    assert fake.n_requests == n
    assert second[-1] == first[-1]  # the same battle token
    final = {d["slot"]: d["html"] for k, d in first if k == "delta"}
    assert {d["slot"]: d["html"] for k, d in second if k == "delta"} == final
    assert len(second) == 3
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text)
    assert csrf
    c.post("/vote", data={"token": first[-1][1]["token"], "csrf": csrf.group(1), "choice": "tie"})
    third = events(c, stream)
    assert third == [("failed", {"message": "You already voted on this battle."})]


def test_reset_clears_live_battle_records(live_client: TestClient) -> None:
    import sqlalchemy as sa

    from preflab.arena._store import meta_t

    c = live_client
    assert events(c, start_battle(c))[-1][0] == "done"
    store = c.app.state.arena.store  # type: ignore[attr-defined]
    live_keys = sa.select(sa.func.count()).select_from(meta_t).where(
        meta_t.c.key.startswith("live:"))
    with store.read() as conn:
        assert conn.execute(live_keys).scalar() == 1
    store.reset()
    with store.read() as conn:
        assert conn.execute(live_keys).scalar() == 0


def test_loaded_prompt_can_be_picked(live_client: TestClient) -> None:
    c = live_client
    page = c.get("/")
    assert 'id="live-example"' in page.text and "Question number 1?" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    resp = c.post("/live/battle", data={"csrf": csrf.group(1), "example": "p1"})
    assert resp.status_code == 200 and "Question number 1?" in resp.text
    bad = c.post("/live/battle", data={"csrf": csrf.group(1), "example": "nope"})
    assert bad.status_code == 400
    assert c.post("/live/battle", data={"csrf": "forged", "prompt": "x"}).status_code == 403
    assert c.post("/live/battle", data={"csrf": csrf.group(1), "prompt": " "}).status_code == 400
    long = c.post("/live/battle", data={"csrf": csrf.group(1), "prompt": "x" * 4001})
    assert long.status_code == 400 and "4001 characters" in long.text


def test_hostile_output_is_inert(db_url: str, tmp_path: Path) -> None:
    hostile = "\n\n".join(CORPUS)
    with FakeOpenAI(reply=lambda _m, _model: hostile, stream_chunk_chars=7) as server:
        toml = models_toml(tmp_path / "m.toml", {"alpha": server.url, "bravo": server.url})
        with make_client(db_url, live=str(toml)) as c:
            got = events(c, start_battle(c, "<script>window.__xss=1</script> hi"))
            battle_page = c.get("/").text
            c.app.state.arena.store.dispose()  # type: ignore[attr-defined]
    assert got[-1][0] == "done"
    htmls = [d["html"].lower() for k, d in got if k == "delta"]
    assert len(htmls) > 10  # partial renders too, each through the sanitizer
    for html in htmls:
        tags = Tags()
        tags.feed(html)
        assert tags.names <= SAFE_TAGS, (tags.names - SAFE_TAGS, html)
        assert tags.attrs <= {"href", "title", "class", "rel", "start", "align"}, html
        schemes = {m.group(1) for h in tags.hrefs if (m := re.match(r"([a-z][a-z0-9+.-]*):", h))}
        assert schemes <= {"http", "https", "mailto"}, html  # relative links are harmless
    assert "&lt;script&gt;" in htmls[-1]  # shown as text, not dropped silently
    assert "<script>window" not in battle_page


SAFE_TAGS = {"p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul",
             "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody",
             "tr", "th", "td", "sup", "sub"}


class Tags(HTMLParser):
    """The element names, attribute names and link targets in a piece of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attrs: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        for name, value in attrs:
            self.attrs.add(name)
            if name == "href":
                self.hrefs.append((value or "").strip().lower())


@pytest.mark.parametrize("kind", ["down", "http-error"])
def test_one_endpoint_failing_voids_the_battle(kind: str, sqlite_url: str, tmp_path: Path,
                                               fake: FakeOpenAI) -> None:
    broken = FakeOpenAI(fail_first=10**6, fail_status=503)
    with broken:
        if kind == "down":
            urls, why = {"alpha": fake.url, "bravo": f"http://127.0.0.1:{free_port()}/v1"}, \
                "could not be reached"
        else:
            urls, why = {"alpha": fake.url, "bravo": broken.url}, "HTTP 503"
        _check_failure(models_toml(tmp_path / "m.toml", urls), sqlite_url, why)


def _check_failure(toml: Path, sqlite_url: str, why: str) -> None:
    with make_client(sqlite_url, live=str(toml)) as c:
        stream = start_battle(c)
        got = events(c, stream)
        assert [k for k, _ in got if k in ("done", "failed")] == ["failed"]
        msg = got[-1][1]["message"]
        assert re.match(r"Response [AB] could not be generated: ", msg) and why in msg
        assert "cannot be voted" in msg and "bravo" not in msg and "127.0.0.1" not in msg
        assert events(c, stream) == [got[-1]]  # a reload says the same, never regenerates
        store = c.app.state.arena.store  # type: ignore[attr-defined]
        assert store.counts()["battles"] == 0  # nothing exists that could be voted on
        assert store.counts()["responses"] == 0
        store.dispose()


def test_timeout_and_cut_stream(sqlite_url: str, tmp_path: Path) -> None:
    with FakeOpenAI(reply=answer, hang_first=1, hang_seconds=5) as slow, \
            FakeOpenAI(reply=answer, cut_after=3) as cut:
        toml = models_toml(tmp_path / "m.toml", {"alpha": slow.url, "bravo": slow.url},
                           extra="timeout = 0.3")
        with make_client(sqlite_url, live=str(toml)) as c:
            msg = events(c, start_battle(c))[-1][1]["message"]
            c.app.state.arena.store.dispose()  # type: ignore[attr-defined]
        assert "did not answer within 0.3 s" in msg or "longer than 0.3 s" in msg
        toml = models_toml(tmp_path / "m2.toml", {"alpha": cut.url, "bravo": cut.url})
        with make_client(sqlite_url.replace("arena.sqlite", "b.sqlite"), live=str(toml)) as c:
            msg = events(c, start_battle(c))[-1][1]["message"]
            c.app.state.arena.store.dispose()  # type: ignore[attr-defined]
        assert "mid-answer" in msg or "connection" in msg


def test_generation_is_rate_limited(sqlite_url: str, tmp_path: Path, fake: FakeOpenAI) -> None:
    toml = models_toml(tmp_path / "m.toml", {"alpha": fake.url, "bravo": fake.url},
                       live="rate_limit = 2")
    with make_client(sqlite_url, live=str(toml)) as c:
        start_battle(c)
        start_battle(c)
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text)
        assert csrf
        resp = c.post("/live/battle", data={"csrf": csrf.group(1), "prompt": "third"})
        assert resp.status_code == 429 and "cost money" in resp.text
        assert fake.n_requests == 0  # pending battles cost nothing until their page streams
        c.app.state.arena.store.dispose()  # type: ignore[attr-defined]


def test_generation_limit_is_shared_by_workers(sqlite_url: str, tmp_path: Path,
                                              fake: FakeOpenAI) -> None:
    """Two app instances on one database (two workers) count one per-IP budget."""
    toml = models_toml(tmp_path / "m.toml", {"alpha": fake.url, "bravo": fake.url},
                       live="rate_limit_ip = 3")
    with make_client(sqlite_url, live=str(toml)) as one, \
            make_client(sqlite_url, live=str(toml)) as two:
        start_battle(one)
        start_battle(two)
        start_battle(one)
        csrf = re.search(r'name="csrf" value="([^"]+)"', two.get("/").text)
        assert csrf
        resp = two.post("/live/battle", data={"csrf": csrf.group(1), "prompt": "fourth"})
        assert resp.status_code == 429 and "cost money" in resp.text
        for c in (one, two):
            c.app.state.arena.store.dispose()  # type: ignore[attr-defined]


def test_stream_reaches_the_client_incrementally(sqlite_url: str, tmp_path: Path) -> None:
    """Over real HTTP: the first pieces arrive while the endpoint is still held mid-answer."""
    hold = threading.Event()
    with FakeOpenAI(reply=answer, stream_chunk_chars=10, hold=hold, hold_after=3) as server:
        toml = models_toml(tmp_path / "m.toml", {"alpha": server.url, "bravo": server.url})
        config = ArenaConfig(db=sqlite_url, rate_limit=0, rate_limit_ip=0, live=str(toml))
        with live_server(config, []) as (base, _store), httpx.Client(base_url=base) as http:
            page = http.get("/")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf
            loc = http.post("/live/battle", data={"csrf": csrf.group(1), "prompt": "go"},
                            headers={"origin": base}).headers["location"]
            stream = re.search(r'data-stream="([^"]+)"', http.get(loc).text)
            assert stream
            seen: list[tuple[str, dict[str, Any]]] = []
            with http.stream("GET", stream.group(1), timeout=30) as r:
                for kind, data in read_sse(r.iter_lines()):
                    seen.append((kind, data))
                    if kind == "delta" and not hold.is_set():
                        # both endpoints are paused after 2 pieces: this is a partial answer
                        assert "Here is a" in data["html"] and "code" not in data["html"]
                        hold.set()
            assert hold.is_set() and seen[-1][0] == "done"
            assert "<code>code</code>" in [d for k, d in seen if k == "delta"][-1]["html"]


def test_leaving_mid_stream_cancels_and_voids(sqlite_url: str, tmp_path: Path) -> None:
    """A voter who closes the page mid-answer stops the calls; the battle is void."""
    import time

    import sqlalchemy as sa

    from preflab.arena._store import meta_t

    hold = threading.Event()
    with FakeOpenAI(reply=answer, stream_chunk_chars=10, hold=hold, hold_after=3) as server:
        toml = models_toml(tmp_path / "m.toml", {"alpha": server.url, "bravo": server.url})
        config = ArenaConfig(db=sqlite_url, rate_limit=0, rate_limit_ip=0, live=str(toml))
        with live_server(config, []) as (base, store), httpx.Client(base_url=base) as http:
            csrf = re.search(r'name="csrf" value="([^"]+)"', http.get("/").text)
            assert csrf
            loc = http.post("/live/battle", data={"csrf": csrf.group(1), "prompt": "go"},
                            headers={"origin": base}).headers["location"]
            stream = loc.replace("/live/b/", "/live/stream/")
            with http.stream("GET", stream, timeout=30) as r:
                first = next(k for k, _ in read_sse(r.iter_lines()))
            assert first == "delta"  # then the page went away
            hold.set()

            def record() -> dict[str, Any]:
                with store.read() as c:
                    values = c.execute(sa.select(meta_t.c.value)
                                       .where(meta_t.c.key.startswith("live:"))).scalars()
                    return dict(json.loads(next(iter(values))))

            deadline = time.monotonic() + 20  # a wait for the server to notice, not a timing
            while record()["status"] == "running" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert record()["status"] == "failed"
            assert "connection closed before both answers" in record()["message"]
            assert store.counts()["battles"] == 0
            with http.stream("GET", stream, timeout=30) as r:
                assert [k for k, _ in read_sse(r.iter_lines())] == ["failed"]


def _collect(body: bytes, ctype: str = "text/event-stream", status: int = 200,
             ) -> tuple[list[str] | str, dict[str, Any]]:
    """Run ``stream_answer`` against a canned HTTP answer; (pieces or error, request seen)."""
    import asyncio
    import os

    from preflab.arena._live_client import GenerationError, stream_answer
    from preflab.arena._live_config import LiveModel

    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["auth"] = request.headers.get("authorization")
        seen["body"] = json.loads(request.content)
        return httpx.Response(status, content=body, headers={"content-type": ctype})

    model = LiveModel(name="alpha", base_url="http://fake/v1", model="id-alpha",
                      api_key_env="PREFLAB_TEST_LIVE_KEY", system="Be brief.",
                      params={"temperature": 0.5})

    async def run() -> list[str] | str:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            try:
                return [p async for p in stream_answer(client, model, "hi", timeout=5)]
            except GenerationError as exc:
                return str(exc)

    os.environ["PREFLAB_TEST_LIVE_KEY"] = "k-123"
    try:
        return asyncio.run(run()), seen
    finally:
        del os.environ["PREFLAB_TEST_LIVE_KEY"]


def test_stream_protocol_details() -> None:
    chunk = 'data: {"choices": [{"delta": {"content": "%s"}, "finish_reason": %s}]}\n\n'
    body = (": keep-alive\n\n" + chunk % ("Hel", "null") + "event: x\nid: 3\n"
            + chunk % ("lo", "null") + chunk % ("", '"stop"') + "data: [DONE]\n\n")
    pieces, seen = _collect(body.encode())
    assert pieces == ["Hel", "lo"]
    assert seen["url"] == "http://fake/v1/chat/completions"
    assert seen["auth"] == "Bearer k-123"  # the key from api_key_env, at call time
    assert seen["body"] == {"temperature": 0.5, "model": "id-alpha", "stream": True,
                            "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "hi"}]}
    # no [DONE] but a finish_reason: complete; neither: cut
    assert _collect((chunk % ("a", '"stop"')).encode())[0] == ["a"]
    assert "mid-answer" in _collect((chunk % ("a", "null")).encode())[0]
    # a server that ignores stream and sends one completion
    whole = json.dumps({"choices": [{"message": {"content": "all at once"}}]}).encode()
    assert _collect(whole, ctype="application/json")[0] == ["all at once"]
    assert "error while answering" in _collect(b'data: {"error": {"message": "x"}}\n\n')[0]
    assert "malformed" in _collect(b"data: {not json\n\n")[0]
    assert "HTTP 429 (is rate-limiting" in _collect(b"{}", status=429)[0]


BAD_FILES = [
    ('[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\n', "models.toml", "model",
     "at least two models"),
    ('[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\n'
     '[[model]]\nname = "b"\nbase_url = "ftp://x"\nmodel = "m"\n', "entry 2 ('b')", "base_url",
     "http:// or https://"),
    ('[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\n'
     '[[model]]\nname = "b"\nbase_url = "http://x/v1"\nmodel = "m"\ntemperature = 0.5\n',
     "entry 2 ('b')", "temperature", "params = {"),
    ('[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\n'
     '[[model]]\nname = "b"\nbase_url = "http://x/v1"\n', "entry 2 ('b')", "model",
     'Add model = "'),
    ('[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\n'
     'api_key_env = "PREFLAB_TEST_SURELY_UNSET"\n'
     '[[model]]\nname = "b"\nbase_url = "http://x/v1"\nmodel = "m"\n', "entry 1 ('a')",
     "api_key_env", "export PREFLAB_TEST_SURELY_UNSET="),
    ('[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\napi_key = "sk-123"\n'
     '[[model]]\nname = "b"\nbase_url = "http://x/v1"\nmodel = "m"\n', "entry 1 ('a')",
     "api_key", "api_key_env"),
    ('[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\n'
     '[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\n', "entry 2", "name",
     "its own name"),
    ('[[model]]\nname = "a"\nbase_url = "http://x/v1"\nmodel = "m"\nparams = {stream = false}\n'
     '[[model]]\nname = "b"\nbase_url = "http://x/v1"\nmodel = "m"\n', "entry 1 ('a')",
     "params", "remove it"),
    ('[live]\ntimeout = -1\n', "[live]", "timeout", "Set timeout"),
    ('[models]\nname = "a"\n', "models.toml", "models", "[[model]], singular"),
    ('[[model]\nname = "a"\n', "models.toml", None, "Fix the syntax"),
]


@pytest.mark.parametrize(("text", "where", "field", "fix"), BAD_FILES)
def test_config_errors_name_file_entry_field_and_fix(tmp_path: Path, text: str, where: str,
                                                     field: str | None, fix: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_live_config(path)
    msg = str(info.value)
    assert str(path) in msg and where in msg and fix in msg, msg
    if field:
        assert f"field '{field}'" in msg, msg


def test_cli_refuses_a_bad_models_file_before_serving(tmp_path: Path) -> None:
    bad = tmp_path / "models.toml"
    bad.write_text('[[model]]\nname = "a"\nbase_url = "http://x/v1"\n', encoding="utf-8")
    res = CliRunner().invoke(arena, ["serve", "--live", str(bad), "--db",
                                     f"sqlite:///{tmp_path / 'a.sqlite'}"])
    assert res.exit_code == 1 and "entry 1 ('a'), field 'model'" in res.output
    good = models_toml(tmp_path / "good.toml", {"a": "http://x/v1", "b": "http://x/v1"})
    res = CliRunner().invoke(arena, ["serve", "--live", str(good), "--k", "3"])
    assert res.exit_code == 1 and "k=2" in res.output


def test_cli_serve_live_with_two_workers(tmp_path: Path) -> None:
    """`preflab arena serve --live` end to end: 2 workers, a key from the environment."""
    import os
    import signal
    import subprocess
    import sys

    with FakeOpenAI(reply=answer) as server:
        toml = models_toml(tmp_path / "m.toml", {"alpha": server.url, "bravo": server.url},
                           extra='api_key_env = "PREFLAB_TEST_LIVE_KEY"')
        toml.write_text(toml.read_text().replace('api_key_env = ""\n', ""), encoding="utf-8")
        port = free_port()
        db = f"sqlite:///{tmp_path / 'live.sqlite'}"
        env = {**os.environ, "PREFLAB_TEST_LIVE_KEY": "k-123"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "preflab", "arena", "serve", "--live", str(toml), "--db", db,
             "--port", str(port), "--workers", "2"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            page = first_page(base, proc)
            with httpx.Client(base_url=base, cookies=page.cookies, timeout=30) as http:
                csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
                assert csrf
                loc = http.post("/live/battle", data={"csrf": csrf.group(1), "prompt": "hi"},
                                headers={"origin": base}).headers["location"]
                with http.stream("GET", loc.replace("/live/b/", "/live/stream/")) as r:
                    got = list(read_sse(r.iter_lines()))
                assert got[-1][0] == "done", got
                reveal = http.post("/vote", data={"token": got[-1][1]["token"],
                                                  "csrf": csrf.group(1), "choice": "tie"})
                assert sorted(re.findall(r'class="model">([^<]+)<', reveal.text)) == \
                    ["alpha", "bravo"]
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    out = tmp_path / "votes.parquet"
    res = CliRunner().invoke(arena, ["export", "-o", str(out), "--db", db])
    assert res.exit_code == 0, res.output
    assert [r["winner"] for r in pq.read_table(out).to_pylist()] == ["tie"]


def test_without_live_nothing_changes(client: TestClient) -> None:
    assert 'id="vote-form"' in client.get("/").text
    assert client.post("/live/battle", data={"prompt": "x"}).status_code == 404
    assert client.get("/live/stream/abc").status_code == 404


def test_stream_needs_the_voters_ticket(live_client: TestClient) -> None:
    stream = start_battle(live_client)
    other = TestClient(live_client.app, base_url=BASE)
    assert events(other, stream)[0][0] == "failed"
    assert other.get(stream.replace("/stream/", "/b/")).status_code == 403
    assert events(live_client, stream)[-1][0] == "done"


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_live_battle_in_chromium(sqlite_url: str, tmp_path: Path, artifacts_dir: Path) -> None:
    need_browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    hostile = LONG + "\n\n" + "\n\n".join(CORPUS[:12])
    with FakeOpenAI(reply=lambda _m, _model: hostile, stream_chunk_chars=24,
                    stream_delay=0.01) as server:
        toml = models_toml(tmp_path / "m.toml", dict.fromkeys(NAMES, server.url))
        config = ArenaConfig(db=sqlite_url, rate_limit=0, rate_limit_ip=0, live=str(toml))
        with live_server(config, make_rows(2)) as (base, store), chromium() as driver:
            wait = WebDriverWait(driver, 30)
            driver.get(base + "/")
            box = wait.until(ec.presence_of_element_located((By.ID, "live-prompt")))
            box.send_keys("Say something **bold**.")
            driver.save_screenshot(str(artifacts_dir / "arena_live_prompt.png"))
            form = driver.find_element(By.ID, "live-form")
            driver.find_element(By.ID, "live-send").click()
            wait.until(detached(form))
            wait.until(ec.element_to_be_clickable((By.ID, "vote-a")))
            for label in "AB":
                text = driver.find_element(By.ID, f"live-text-{label}")
                assert text.find_elements(By.TAG_NAME, "strong")
                assert not text.find_elements(By.CSS_SELECTOR, "script, img, svg, iframe")
            assert driver.execute_script("return window.__xss") is None
            assert driver.title != "pwned"
            assert not any(n in driver.page_source for n in NAMES)
            driver.save_screenshot(str(artifacts_dir / "arena_live_vote.png"))
            form = driver.find_element(By.ID, "vote-form")
            driver.find_element(By.TAG_NAME, "body").send_keys("2")  # keyboard vote: B
            wait.until(detached(form))
            wait.until(ec.presence_of_element_located((By.ID, "reveal")))
            revealed = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#reveal .model")]
            assert len(revealed) == 2 and set(revealed) <= set(NAMES)
            votes = store.votes()
            assert [(v["model_a"], v["model_b"], v["winner"]) for v in votes] == \
                [(revealed[0], revealed[1], "model_b")]
            assert not [e for e in console_errors(driver) if "Content Security Policy" in e]
