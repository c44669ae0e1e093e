"""The signed tokens: bound to the voter and to their purpose, expiring, and never crashing."""

from __future__ import annotations

import pytest

from preflab.arena import _security
from preflab.arena._security import Signer


def test_tokens_are_bound_to_voter_and_purpose() -> None:
    s = Signer("secret")
    cookie, csrf, battle = s.voter_cookie("v1"), s.csrf_token("v1"), s.battle_token("b1", "v1")
    assert s.voter_from_cookie(cookie) == "v1"
    assert s.check_csrf(csrf, "v1") and not s.check_csrf(csrf, "v2")
    assert s.battle_from_token(battle, "v1") == "b1"
    assert s.battle_from_token(battle, "v2") is None  # another voter's token
    assert "v1" not in csrf and "v1" not in battle  # the voter id is bound, not sent
    # a token of one purpose is not accepted for another, nor under another secret
    assert s.voter_from_cookie(battle) is None and s.battle_from_token(cookie, "v1") is None
    assert Signer("other").voter_from_cookie(cookie) is None
    forged = "v2" + cookie[2:]  # same MAC, another voter id
    assert s.voter_from_cookie(forged) is None


def test_live_tickets_are_bound_to_voter_and_purpose() -> None:
    s = Signer("secret")
    live_id = "0123456789abcdef0123456789abcdef"
    ticket = s.live_ticket(live_id, "v1")
    assert s.live_from_ticket(ticket, "v1") == live_id
    assert s.live_from_ticket(ticket, "v2") is None and s.live_from_ticket(ticket, None) is None
    assert "v1" not in ticket
    # a live ticket is not a battle token (same shape, other purpose), and vice versa
    assert s.battle_from_token(ticket, "v1") is None
    assert s.live_from_ticket(s.battle_token(live_id, "v1"), "v1") is None


def test_tokens_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Signer("secret", battle_max_age=60)
    now = [1_800_000_000.0]

    class Clock:
        @staticmethod
        def time() -> float:
            return now[0]

    monkeypatch.setattr(_security, "time", Clock)
    token = s.battle_token("b1", "v1")
    now[0] += 59
    assert s.battle_from_token(token, "v1") == "b1"
    now[0] += 2
    assert s.battle_from_token(token, "v1") is None


@pytest.mark.parametrize("bad", ["", ".", "..", "v1", "v1.x.y", "v1.１２.abc", "v1.²³.abc",
                                 "v1.123.é", "a" * 1000, "v1..123.abc", None])
def test_hostile_tokens_are_refused_not_errors(bad: str | None) -> None:
    s = Signer("secret")
    assert s.voter_from_cookie(bad) is None
    assert s.check_csrf(bad, "v1") is False
    assert s.battle_from_token(bad, "v1") is None


def test_ids_must_be_token_safe() -> None:
    with pytest.raises(ValueError, match="token-safe"):
        Signer("secret").voter_cookie("v1.admin")
