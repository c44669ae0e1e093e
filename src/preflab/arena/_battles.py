"""Battles, votes and rankings: the writes of the vote flow, through the group commit.

Each write is a function run inside the shared transaction of ``_commit.GroupCommit`` on the
driver's own connection (``_raw``); the ``submit_*`` methods return a future that resolves
once the transaction holding the write has committed, so async endpoints await it without a
thread, and the blocking ``create_battle``/``record_vote``/... wait on it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from preflab._errors import PreflabError
from preflab.arena._commit import GroupCommit
from preflab.arena._raw import Limits, RawDB

OUTCOMES = ("a_wins", "b_wins", "ties", "bothbad")
Bumps = list[tuple[str, str, str]]

# Hot statements: constant SQL text for the driver (``?`` placeholders, see ``RawDB.sql``).
_BATTLES_SINCE = ("SELECT id, prompt_id, models, status, created FROM arena_battles "
                  "WHERE voter = ? AND created > ? ORDER BY created")
_CLOSE = ("UPDATE arena_battles SET status = ? WHERE id = ? AND voter = ? AND status = 'open' "
          "RETURNING prompt_id, models, created")
_NEW_BATTLE = ("INSERT INTO arena_battles (id, voter, prompt_id, models, status, created) "
               "VALUES (?, ?, ?, ?, 'open', ?)")
_NEW_VOTE = ("INSERT INTO arena_votes (battle_id, voter, prompt_id, model_a, model_b, winner, "
             "tstamp) VALUES (?, ?, ?, ?, ?, ?, ?)")
_NEW_RANKING = ("INSERT INTO arena_rankings (battle_id, voter, prompt_id, models, tstamp) "
                "VALUES (?, ?, ?, ?, ?)")
_BUMP = ("INSERT INTO arena_pair_stats (model_a, model_b, a_wins, b_wins, ties, bothbad) "
         "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model_a, model_b) DO UPDATE SET "
         + ", ".join(f"{k} = arena_pair_stats.{k} + excluded.{k}" for k in OUTCOMES))


@lru_cache(maxsize=65536)
def _models(text: str) -> tuple[str, ...]:
    """Decode a stored model list (the same few thousand lists recur, so cache them)."""
    return tuple(json.loads(text))


class BattleUsed(PreflabError):
    """The battle was already voted on or skipped (or never existed for this voter)."""


@dataclass(frozen=True, slots=True)
class Battle:
    """A battle as stored: its id, voter, prompt and models in display order."""

    id: str
    voter: str
    prompt_id: str
    models: tuple[str, ...]
    status: str
    created: float


class BattleWrites:
    """The battle/vote methods of :class:`~preflab.arena._store.Store` (a mixin)."""

    raw: RawDB
    _group: GroupCommit  # synced commits: votes, rankings, skips
    _battle_group: GroupCommit  # relaxed commits: new battles (see ``_store``)

    def submit_battle(self, voter: str, prompt_id: str, models: Sequence[str],
                      limits: Limits = ()) -> Future[Battle]:
        """Store a new open battle; the future resolves once committed (relaxed: not synced).

        ``limits`` are rate counters to bump in the same transaction (``RateLimited`` if full).
        """
        b = Battle(secrets.token_hex(16), voter, prompt_id, tuple(models), "open", time.time())
        params = (b.id, voter, prompt_id, json.dumps(list(models)), b.created)
        sql = self.raw.sql(_NEW_BATTLE)

        def write(c: Any, _bumps: Bumps) -> Battle:
            self.raw.check_limits(c, limits)
            c.execute(sql, params)
            return b

        return self._battle_group.submit(write, tuple(k for k, _ in limits))

    def create_battle(self, voter: str, prompt_id: str, models: Sequence[str]) -> Battle:
        return self.submit_battle(voter, prompt_id, models).result()


    def battle_rows(self, voter: str, since: float) -> list[tuple[Any, ...]]:
        """``(id, prompt_id, models JSON, status, created)`` of the voter's battles created
        after ``since``, oldest first (one index range scan)."""
        return self.raw.read(self.raw.sql(_BATTLES_SINCE), (voter, max(since, -1e300)))

    def _close(self, c: Any, battle_id: str, voter: str, status: str) -> Battle:
        """Move an open battle of ``voter`` to ``status``; the condition admits one caller."""
        r = c.execute(self.raw.sql(_CLOSE), (status, battle_id, voter)).fetchone()
        if r is None:
            raise BattleUsed("this battle was already voted on, skipped, or is not yours")
        return Battle(battle_id, voter, str(r[0]), _models(r[1]), status, float(r[2]))

    def submit_skip(self, battle_id: str, voter: str, limits: Limits = ()) -> Future[Battle]:
        def write(c: Any, _bumps: Bumps) -> Battle:
            self.raw.check_limits(c, limits)
            return self._close(c, battle_id, voter, "skipped")

        return self._group.submit(write, tuple(k for k, _ in limits))

    def count_events(self, limits: Limits) -> Future[None]:
        """Count one event on each rate counter (``RateLimited`` when one is full)."""
        return self._group.submit(lambda c, _bumps: self.raw.check_limits(c, limits),
                                  tuple(k for k, _ in limits))

    def _bump(self, c: Any, bumps: Bumps) -> None:
        """Add outcomes ``(first, second, outcome)`` to the unordered pairs' counts.

        Rows are updated in sorted key order so concurrent transactions on PostgreSQL take
        their row locks in the same order (no deadlocks).
        """
        cells: dict[tuple[str, str], dict[str, int]] = {}
        for a, b, outcome in bumps:
            if a > b:
                a, b = b, a
                outcome = {"a_wins": "b_wins", "b_wins": "a_wins"}.get(outcome, outcome)
            cell = cells.setdefault((a, b), dict.fromkeys(OUTCOMES, 0))
            cell[outcome] += 1
        sql = self.raw.sql(_BUMP)
        for (a, b), values in sorted(cells.items()):
            c.execute(sql, (a, b, *(values[k] for k in OUTCOMES)))

    def submit_vote(self, battle_id: str, voter: str, winner: str,
                    limits: Limits = ()) -> Future[Battle]:
        """Close the battle and store a pairwise verdict; the future resolves once committed.

        ``winner`` is ``model_a`` (left), ``model_b`` (right), ``tie`` or ``tie_bothbad``.
        Fails with :class:`BattleUsed` on a second vote: the conditional update admits only
        one.  The vote, the battle's status, the pair counts and the rate counters change in
        one transaction.
        """
        outcome = {"model_a": "a_wins", "model_b": "b_wins", "tie": "ties",
                   "tie_bothbad": "bothbad"}[winner]
        sql = self.raw.sql(_NEW_VOTE)

        def write(c: Any, bumps: Bumps) -> Battle:
            self.raw.check_limits(c, limits)
            b = self._close(c, battle_id, voter, "voted")
            if len(b.models) != 2:
                raise BattleUsed("this battle asks for an ordering, not a pairwise vote")
            ma, mb = b.models
            c.execute(sql, (battle_id, voter, b.prompt_id, ma, mb, winner, time.time()))
            bumps.append((ma, mb, outcome))
            return b

        return self._group.submit(write, tuple(k for k, _ in limits))

    def record_vote(self, battle_id: str, voter: str, winner: str) -> Battle:
        """:meth:`submit_vote`, waiting for the commit."""
        return self.submit_vote(battle_id, voter, winner).result()

    def submit_ranking(self, battle_id: str, voter: str, order: Sequence[Sequence[int]],
                       limits: Limits = ()) -> Future[Battle]:
        """Store a K-wise ordering (groups of display slots, best first) once committed.

        The pair counts get every implied pairwise outcome (full rank breaking): a model in an
        earlier group beats each model in a later one; models in one group tie.
        """
        sql = self.raw.sql(_NEW_RANKING)

        def write(c: Any, bumps: Bumps) -> Battle:
            self.raw.check_limits(c, limits)
            b = self._close(c, battle_id, voter, "voted")
            slots = sorted(i for g in order for i in g)
            if slots != list(range(len(b.models))) or len(b.models) < 3:
                raise BattleUsed("the ordering must place every response of the battle once")
            groups = [[b.models[i] for i in g] for g in order]
            c.execute(sql, (battle_id, voter, b.prompt_id, json.dumps(groups), time.time()))
            for gi, g in enumerate(groups):
                for x_i, x in enumerate(g):
                    bumps += [(x, y, "ties") for y in g[x_i + 1:]]
                    bumps += [(x, y, "a_wins") for later in groups[gi + 1:] for y in later]
            return b

        return self._group.submit(write, tuple(k for k, _ in limits))

    def record_ranking(self, battle_id: str, voter: str, order: Sequence[Sequence[int]]) -> Battle:
        return self.submit_ranking(battle_id, voter, order).result()

