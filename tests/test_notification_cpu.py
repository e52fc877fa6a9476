"""``bench.notification_cpu``: the redelivered mix goes through the real host and the floor."""

from __future__ import annotations

from pathlib import Path

from bench.notification_cpu import KINDS, measure


async def test_the_mix_is_accepted_by_the_host_and_the_floor_and_measured(tmp_path: Path) -> None:
    result = await measure(calls=1, kinds=KINDS, rounds=1, seconds=0.2, workdir=tmp_path)

    # Every request answered 202 (measure refuses anything else); each target measured.
    assert result["kinds"] == list(KINDS)
    assert result["hostMedianMs"] > 0
    assert result["floorMedianMs"] > 0
    assert result["floorOverHost"] > 0
