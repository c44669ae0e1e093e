"""Online Elo equals FastChat's compute_elo to floating-point precision."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from preflab.rank import online_elo


@pytest.mark.parametrize("size", ["10k", "100k"])
def test_equals_fastchat_compute_elo(shared_data, size):
    ref = shared_data / "fastchat-reference"
    r = online_elo(pq.read_table(ref / f"battles_{size}.parquet"))
    expected = json.loads((ref / f"online_elo_{size}.json").read_text())["ratings"]
    assert set(expected) == set(r.models)
    assert max(abs(r[m] - expected[m]) for m in expected) < 1e-9
