"""The vote flow over HTTP: blind voting, reveal, single use, CSRF, rate limits, admin, K-wise."""

from __future__ import annotations

import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from arena_helpers import BASE, form_fields, make_client, make_rows
from fastapi.testclient import TestClient

from preflab.arena import comparisons_table, rankings_table

MODELS = ("alpha", "bravo", "charlie", "delta")


def test_blind_vote_then_reveal(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    body = page.text
    for m in MODELS:  # identities never in the page before the vote
        assert m not in body
    assert "Response A" in body and "Response B" in body
    assert "<strong>Answer" in body  # markdown rendered
    fields = form_fields(body)
    done = client.post("/vote", data={**fields, "choice": "b"})
    assert done.status_code == 200
    shown = re.findall(r'class="model">([^<]+)<', done.text)
    assert len(shown) == 2 and set(shown) <= set(MODELS) and shown[0] != shown[1]
    store = client.app.state.arena.store  # type: ignore[attr-defined]
    votes = store.votes()
    assert [(v["model_a"], v["model_b"], v["winner"]) for v in votes] == [
        (shown[0], shown[1], "model_b")]
    a, b = sorted(shown)
    stats = store.pair_stats()
    want = (0, 1) if (a, b) == (shown[0], shown[1]) else (1, 0)
    assert stats == [(a, b, *want, 0, 0)]


def test_reload_shows_same_battle_and_skip_gives_new(client: TestClient) -> None:
    first = form_fields(client.get("/").text)
    again = form_fields(client.get("/").text)
    store = client.app.state.arena.store  # type: ignore[attr-defined]
    assert store.counts()["battles"] == 1  # reloading does not reroll the models
    ids = {f["token"].split(".")[0] for f in (first, again)}  # battle id . time . MAC
    assert len(ids) == 1  # the same battle id in both tokens
    r = client.post("/skip", data=first, follow_redirects=False)
    assert r.status_code == 303
    assert store.counts()["battles"] == 1
    form_fields(client.get("/").text)
    assert store.counts()["battles"] == 2
    assert client.post("/vote", data={**first, "choice": "a"}).status_code == 409


def test_replay_and_double_vote_rejected(client: TestClient) -> None:
    fields = form_fields(client.get("/").text)
    assert client.post("/vote", data={**fields, "choice": "a"}).status_code == 200
    again = client.post("/vote", data={**fields, "choice": "b"})
    assert again.status_code == 409
    assert len(client.app.state.arena.store.votes()) == 1  # type: ignore[attr-defined]


def test_token_bound_to_voter(client: TestClient, db_url: str) -> None:
    fields = form_fields(client.get("/").text)
    other = TestClient(client.app, base_url=BASE)
    other_fields = form_fields(other.get("/").text)
    # another voter's token with my own (valid) CSRF token: refused
    r = other.post("/vote", data={"token": fields["token"], "csrf": other_fields["csrf"],
                                  "choice": "a"})
    assert r.status_code == 403
    # my token with the other voter's CSRF token: refused
    r = client.post("/vote", data={"token": fields["token"], "csrf": other_fields["csrf"],
                                   "choice": "a"})
    assert r.status_code == 403
    assert client.app.state.arena.store.votes() == []  # type: ignore[attr-defined]


def test_forged_token_and_bad_choice(client: TestClient) -> None:
    fields = form_fields(client.get("/").text)
    forged = fields["token"][:-2] + ("AA" if fields["token"][-2:] != "AA" else "BB")
    assert client.post("/vote", data={**fields, "token": forged, "choice": "a"}).status_code == 403
    assert client.post("/vote", data={**fields, "choice": "model_a"}).status_code == 400
    assert client.post("/vote", data={**fields, "choice": "a"}).status_code == 200


def test_csrf_and_origin(client: TestClient) -> None:
    fields = form_fields(client.get("/").text)
    assert client.post("/vote", data={"token": fields["token"], "choice": "a"}).status_code == 403
    evil = client.post("/vote", data={**fields, "choice": "a"},
                       headers={"origin": "https://evil.example"})
    assert evil.status_code == 403
    ok = client.post("/vote", data={**fields, "choice": "a"}, headers={"origin": BASE})
    assert ok.status_code == 200


def test_security_headers(client: TestClient) -> None:
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["cache-control"] == "no-store"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "<script>" not in r.text and " on" not in re.sub(r"<[^>]*>", "", "")  # no inline JS
    assert re.search(r"<script[^>]*>[^<]+</script>", r.text) is None
    assert re.search(r"\son[a-z]+=", r.text) is None
    js = client.get("/static/arena.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]


def test_rate_limit_per_voter(sqlite_url: str) -> None:
    c = make_client(sqlite_url, rate_limit=3)
    c.app.state.arena.store.load_responses(make_rows(n_prompts=8))  # type: ignore[attr-defined]
    codes = []
    for _ in range(3):  # three votes pass: three battles, three votes
        page = c.get("/")
        assert page.status_code == 200
        codes.append(c.post("/vote", data={**form_fields(page.text), "choice": "a"}).status_code)
    assert codes == [200, 200, 200]
    limited = c.get("/")  # a fourth new battle within the minute
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
    other = TestClient(c.app, base_url=BASE)  # another voter (same IP, high IP limit) is fine
    page = other.get("/")
    assert page.status_code == 200
    # votes are limited separately from battles: the other voter's own limit applies
    assert other.post("/vote", data={**form_fields(page.text), "choice": "b"}).status_code == 200


def test_rate_limit_per_ip(sqlite_url: str) -> None:
    c = make_client(sqlite_url, rate_limit_ip=4)
    c.app.state.arena.store.load_responses(make_rows())  # type: ignore[attr-defined]
    codes = []
    for _ in range(6):  # fresh voters (no cookie) from one IP
        fresh = TestClient(c.app, base_url=BASE)
        codes.append(fresh.get("/").status_code)
    assert codes[:4] == [200] * 4 and codes[4:] == [429, 429]


def test_admin_endpoints_need_token(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/admin/export").status_code == 401
    bad = client.get("/admin/export", headers={"authorization": "Bearer wrong"})
    assert bad.status_code == 401
    assert client.post("/admin/reset").status_code == 401
    auth = {"authorization": "Bearer s3cret-admin"}
    fields = form_fields(client.get("/").text)
    client.post("/vote", data={**fields, "choice": "tie"})
    exported = client.get("/admin/export", headers=auth)
    assert exported.status_code == 200
    table = pq.read_table(io.BytesIO(exported.content))
    assert table.num_rows == 1 and table.column("winner").to_pylist() == ["tie"]
    assert table.column("judge").to_pylist()[0].startswith("human:")
    extra = pa.table({"prompt_id": ["new"], "model": ["echo"], "text": ["hi"]})
    buf = io.BytesIO()
    pq.write_table(extra, buf)
    loaded = client.post("/admin/load", content=buf.getvalue(),
                         headers={**auth, "content-type": "application/vnd.apache.parquet"})
    assert loaded.status_code == 200 and loaded.json() == {"loaded": 1}
    dup = client.post("/admin/load", content=buf.getvalue(),
                      headers={**auth, "content-type": "application/vnd.apache.parquet"})
    assert dup.status_code == 422 and "already loaded" in dup.json()["error"]
    assert client.post("/admin/reset", headers=auth).status_code == 200
    assert client.app.state.arena.store.counts()["votes"] == 0  # type: ignore[attr-defined]


def test_admin_off_without_token(sqlite_url: str) -> None:
    c = make_client(sqlite_url, admin_token=None)
    assert c.get("/admin/export", headers={"authorization": "Bearer "}).status_code == 404


def test_kwise_ranking(db_url: str) -> None:
    c = make_client(db_url, k=3)
    store = c.app.state.arena.store  # type: ignore[attr-defined]
    store.load_responses(make_rows())
    page = c.get("/")
    assert page.status_code == 200 and "Response C" in page.text and "Response D" not in page.text
    for m in MODELS:
        assert m not in page.text
    fields = form_fields(page.text)
    bad = c.post("/rank", data={**fields, "place_0": "1", "place_1": "9", "place_2": "2"})
    assert bad.status_code == 400
    r = c.post("/rank", data={**fields, "place_0": "2", "place_1": "1", "place_2": "2"})
    assert r.status_code == 200
    shown = re.findall(r'class="model">([^<]+)<', r.text)
    ranks = store.rankings()
    assert len(ranks) == 1
    table = rankings_table(store)
    assert table.column("models").to_pylist() == [[[shown[1]], [shown[0], shown[2]]]]
    stats = {(a, b): (aw, bw, t) for a, b, aw, bw, t, _ in store.pair_stats()}
    assert sum(aw + bw + t for aw, bw, t in stats.values()) == 3  # full rank breaking
    a, b = sorted((shown[0], shown[2]))
    assert stats[(a, b)] == (0, 0, 1)
    assert c.post("/rank", data={**fields, "place_0": "1", "place_1": "2",
                                 "place_2": "3"}).status_code == 409
    store.dispose()


def test_unvoted_model_has_no_interval(sqlite_url: str) -> None:
    c = make_client(sqlite_url, matchmaking="uniform")
    store = c.app.state.arena.store  # type: ignore[attr-defined]
    store.load_responses(make_rows(n_prompts=2, models=("alpha", "bravo", "charlie")))
    board = c.get("/leaderboard.json").json()
    assert board["models"] and all(m["ci"] is None for m in board["models"])
    assert "no votes yet" in c.get("/leaderboard").text
    store.dispose()


def test_leaderboard_moves(client: TestClient) -> None:
    store = client.app.state.arena.store  # type: ignore[attr-defined]
    for _ in range(6):
        page = client.get("/")
        if "token" not in page.text:
            break
        client.post("/vote", data={**form_fields(page.text), "choice": "a"})
    board = client.get("/leaderboard.json").json()
    assert len(board["models"]) == 4
    ratings = [m["rating"] for m in board["models"]]
    assert ratings == sorted(ratings, reverse=True)
    assert sum(m["games"] for m in board["models"]) == 2 * len(store.votes())
    html = client.get("/leaderboard")
    assert html.status_code == 200 and "<table" in html.text
    for m in board["models"]:  # no zero-width interval for a model nobody voted on
        assert (m["ci"] is None) == (m["games"] == 0)
        if m["ci"] is not None:
            assert m["ci"][0] < m["ci"][1]
    table = comparisons_table(store)
    assert table.num_rows == len(store.votes()) > 0


def test_voter_sees_no_repeats(sqlite_url: str) -> None:
    c = make_client(sqlite_url, matchmaking="active")
    store = c.app.state.arena.store  # type: ignore[attr-defined]
    store.load_responses(make_rows(n_prompts=2, models=("alpha", "bravo", "charlie")))
    seen = []
    for _ in range(10):  # 2 prompts x 3 pairs = 6 distinct battles
        page = c.get("/")
        if "token" not in page.text:
            assert "seen every battle" in page.text
            break
        c.post("/vote", data={**form_fields(page.text), "choice": "tie"})
    for v in store.votes():
        seen.append((v["prompt_id"], frozenset((v["model_a"], v["model_b"]))))
    assert len(seen) == 6 and len(set(seen)) == 6


def test_empty_arena_page(sqlite_url: str) -> None:
    c = make_client(sqlite_url)
    r = c.get("/")
    assert r.status_code == 200 and "Nothing to vote on yet" in r.text
    assert c.get("/leaderboard").status_code == 200
    assert c.get("/leaderboard.json").json()["models"] == []


def test_images_served_only_from_roots(sqlite_url: str, tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    root.mkdir()
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                        "0000000d4944415478da63f8ffff3f0005fe02fea7d6a4a10000000049454e44ae426082")
    (root / "a.png").write_bytes(png)
    (root / "b.png").write_bytes(png)
    outside = tmp_path / "secret.png"
    outside.write_bytes(png)
    (root / "evil.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    c = make_client(sqlite_url, image_roots=(str(root),))
    store = c.app.state.arena.store  # type: ignore[attr-defined]
    store.load_responses([
        {"prompt_id": "cat", "model": "m1", "text": None, "prompt": "a cat",
         "image": str(root / "a.png"), "category": None},
        {"prompt_id": "cat", "model": "m2", "text": None, "prompt": "a cat",
         "image": str(root / "b.png"), "category": None},
    ])
    page = c.get("/")
    assert "gallery" in page.text and "m1" not in page.text and "a.png" not in page.text
    srcs = re.findall(r'<img src="([^"]+)"', page.text)
    assert len(srcs) == 2
    img = c.get(srcs[0])
    assert img.status_code == 200 and img.content == png
    assert img.headers["content-type"] == "image/png"
    assert TestClient(c.app, base_url=BASE).get(srcs[0]).status_code == 403  # other voter
    # point the content at files outside the root / an SVG: not served
    for bad in (outside, root / "evil.svg", root / ".." / "secret.png"):
        store.load_responses([
            {"prompt_id": "cat", "model": "m1", "text": None, "prompt": "a cat",
             "image": str(bad), "category": None},
            {"prompt_id": "cat", "model": "m2", "text": None, "prompt": "a cat",
             "image": str(bad), "category": None}], replace=True)
        assert c.get(srcs[0]).status_code == 404


@pytest.mark.parametrize("bad_rows, message", [
    ([{"prompt_id": "p", "model": "m"}], "neither 'text' nor 'image'"),
    ([{"prompt_id": "p", "model": "m", "text": "x"}, {"prompt_id": "p", "model": "m",
                                                     "text": "y"}], "duplicate"),
    ([{"prompt_id": "", "model": "m", "text": "x"}], "'prompt_id' is empty"),
])
def test_load_errors_name_the_row(tmp_path: Path, bad_rows: list[dict[str, str]],
                                  message: str) -> None:
    from preflab._errors import DataError
    from preflab.arena import Store, load_file

    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist(bad_rows), path)
    store = Store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with pytest.raises(DataError, match=message) as err:
        load_file(store, path)
    assert str(path) in str(err.value)
    store.dispose()


def test_remote_images_proxied_only_from_allowed_hosts(sqlite_url: str) -> None:
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                        "0000000d4944415478da63f8ffff3f0005fe02fea7d6a4a10000000049454e44ae426082")
    files = {"/model-one/1.png": ("image/png", png),
             "/model-two/2.svg": ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            media, body = files.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in files else 404)
            self.send_header("content-type", media)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        c = make_client(sqlite_url, image_hosts=(host,))
        store = c.app.state.arena.store  # type: ignore[attr-defined]
        rows = [("m1", f"{host}/model-one/1.png"), ("m2", "https://tracker.example.com/2.png"),
                ("m3", f"{host}/model-two/2.svg")]
        store.load_responses([{"prompt_id": "dog", "model": m, "text": None, "prompt": "a dog",
                               "image": url, "category": None} for m, url in rows])
        seen = set()
        for _ in range(3):  # every pair of the three models once
            page = c.get("/")
            # images only from the arena itself; the remote URL never reaches the page
            assert "img-src 'self';" in page.headers["content-security-policy"]
            assert "127.0.0.1:" not in page.text and "model-" not in page.text
            assert "tracker.example.com" not in page.text
            srcs = re.findall(r'<img src="(/img/[^"]+)"', page.text)
            for src in srcs:
                got = c.get(src)
                seen.add((got.status_code, got.headers["content-type"].split(";")[0]))
                if got.status_code == 200:
                    assert got.content == png
            if "image from a host this arena does not allow" not in page.text:
                assert len(srcs) == 2
            c.post("/vote", data={**form_fields(page.text), "choice": "a"})
        # the PNG is passed on; the SVG (script-capable) is refused
        assert seen == {(200, "image/png"), (404, "text/html")}
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_public_names() -> None:
    import preflab.arena as arena

    for name in arena.__all__:
        assert getattr(arena, name) is not None
    assert sorted(arena.__all__) == arena.__all__
