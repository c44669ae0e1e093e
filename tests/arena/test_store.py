"""The store under concurrency: single use holds when many requests race for one battle."""

from __future__ import annotations

import threading

import pytest
from arena_helpers import make_rows

from preflab.arena import BattleUsed, Store


def test_concurrent_double_vote_admits_one(db_url: str) -> None:
    store = Store(db_url)
    store.load_responses(make_rows())
    battles = [store.create_battle("voter", "p0", ["alpha", "bravo"]) for _ in range(5)]
    results: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8 * len(battles))

    def attempt(battle_id: str, winner: str) -> None:
        start.wait()
        try:
            store.record_vote(battle_id, "voter", winner)
            outcome = "ok"
        except BattleUsed:
            outcome = "used"
        with lock:
            results.append(f"{battle_id}:{outcome}")

    threads = [threading.Thread(target=attempt, args=(b.id, w))
               for b in battles for w in ("model_a", "model_b", "tie", "tie_bothbad") * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 8 * len(battles)
    for b in battles:
        assert results.count(f"{b.id}:ok") == 1
    votes = store.votes()
    assert sorted(v["battle_id"] for v in votes) == sorted(b.id for b in battles)
    (row,) = store.pair_stats()
    assert sum(row[2:]) == len(battles)
    store.dispose()


def test_wrong_voter_and_kwise_misuse(db_url: str) -> None:
    store = Store(db_url)
    b2 = store.create_battle("v1", "p0", ["alpha", "bravo"])
    b3 = store.create_battle("v1", "p0", ["alpha", "bravo", "charlie"])
    with pytest.raises(BattleUsed):
        store.record_vote(b2.id, "v2", "model_a")  # not this voter's battle
    with pytest.raises(BattleUsed):
        store.record_vote(b3.id, "v1", "model_a")  # a K-wise battle takes an ordering
    with pytest.raises(BattleUsed):
        store.record_ranking(b3.id, "v1", [[0], [0, 1]])  # not a permutation
    assert store.get_battle(b3.id).status == "open"  # type: ignore[union-attr]
    store.record_ranking(b3.id, "v1", [[2], [0, 1]])
    assert store.get_battle(b3.id).status == "voted"  # type: ignore[union-attr]
    assert store.record_vote(b2.id, "v1", "tie").models == ("alpha", "bravo")
    counts = {(a, b): r for a, b, *r in store.pair_stats()}
    assert counts[("alpha", "bravo")] == [0, 0, 2, 0]  # one ranked tie, one voted tie
    assert counts[("alpha", "charlie")] == [0, 1, 0, 0]
    assert counts[("bravo", "charlie")] == [0, 1, 0, 0]
    store.dispose()


def test_group_commit_refusal_rolls_back_only_that_write(db_url: str) -> None:
    """One refused write in a batch: the others commit, the refused one leaves no trace."""
    from concurrent.futures import Future
    from typing import Any

    store = Store(db_url)
    put = store.raw.sql("INSERT INTO arena_meta (key, value) VALUES (?, 'x')")
    has = store.raw.sql("SELECT count(*) FROM arena_meta WHERE key = ?")

    def write(key: str, refuse: bool = False, unless: str | None = None) -> Any:
        def fn(c: Any, _bumps: list[tuple[str, str, str]]) -> str:
            c.execute(put, (key,))
            if refuse or (unless is not None and c.execute(has, (unless,)).fetchone()[0]):
                raise ValueError(f"refused {key}")
            return key
        return fn

    # b is refused outright; d is refused because a (earlier in the batch) committed
    writes = [write("a"), write("b", refuse=True), write("c"), write("d", unless="a")]
    futures: list[Future[Any]] = [Future() for _ in writes]
    try:
        store._group._commit([(fn, fut, ()) for fn, fut in zip(writes, futures, strict=True)])
        assert [f.result() for f in (futures[0], futures[2])] == ["a", "c"]
        for f, key in ((futures[1], "b"), (futures[3], "d")):
            with pytest.raises(ValueError, match=f"refused {key}"):
                f.result()
        kept = {k for k in "abcd" if store.get_meta(k) is not None}
        assert kept == {"a", "c"}
    finally:
        store.dispose()


def test_group_commit_skips_cancelled_callers(sqlite_url: str) -> None:
    """A request cancelled while its write is queued: the write is dropped, the rest commit."""
    from concurrent.futures import Future
    from typing import Any

    store = Store(sqlite_url)
    put = "INSERT INTO arena_meta (key, value) VALUES (?, 'x')"

    def write(key: str) -> Any:
        return lambda c, _bumps: c.execute(put, (key,)) and key

    futures: list[Future[Any]] = [Future() for _ in range(3)]
    futures[1].cancel()  # as asyncio.wrap_future does when the awaiting task is cancelled
    group = store._group
    try:
        for key, fut in zip("abc", futures, strict=True):
            group._queue.put((write(key), fut, ()))
        group._queue.put(None)
        group._loop()  # run the writer loop here until the stop marker
        assert futures[0].result() == "a" and futures[2].result() == "c"
        assert futures[1].cancelled()
        assert [k for k in "abc" if store.get_meta(k) is not None] == ["a", "c"]
    finally:
        store.dispose()
