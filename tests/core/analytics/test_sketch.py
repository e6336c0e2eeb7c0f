"""Visitor sketches: exact while small, a HyperLogLog within its error beyond, and merging
is a union (`core/analytics/sketch.py`)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.analytics.sketch import (
    EXACT_LIMIT,
    STANDARD_ERROR,
    VisitorSketch,
    visitor_hash,
)


def hashes(n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [visitor_hash(f"{rng.random()}") for _ in range(n)]


@given(st.lists(st.integers(0, 2**64 - 1), max_size=EXACT_LIMIT))
def test_up_to_the_limit_a_sketch_counts_exactly_and_survives_bytes(found: list[int]) -> None:
    sketch = VisitorSketch(found)
    assert sketch.exact
    assert sketch.count() == len(set(found))
    assert VisitorSketch.from_bytes(sketch.to_bytes()).hashes == set(found)


@pytest.mark.parametrize("n", [EXACT_LIMIT + 1, 300, 2_000, 20_000, 200_000])
def test_beyond_the_limit_the_estimate_is_within_three_standard_errors(n: int) -> None:
    for seed in range(3):
        sketch = VisitorSketch(hashes(n, seed))
        assert not sketch.exact
        assert abs(sketch.count() - n) <= 3 * STANDARD_ERROR * n + 1


def test_merging_is_a_union_whatever_the_kinds() -> None:
    population = hashes(5_000)
    parts = [population[i:i + 40] for i in range(0, 4_000, 40)]  # exact sketches
    parts += [population[3_000:5_000]]  # a HyperLogLog, overlapping them
    merged = VisitorSketch()
    for part in parts:
        merged.merge(VisitorSketch.from_bytes(VisitorSketch(part).to_bytes()))
    whole = VisitorSketch(population)
    assert merged.registers == whole.registers  # the same registers as one sketch of all
    assert abs(merged.count() - 5_000) <= 3 * STANDARD_ERROR * 5_000


def test_adding_one_by_one_equals_building_at_once() -> None:
    found = hashes(500, seed=7)
    sketch = VisitorSketch()
    for hashed in found:
        sketch.add(hashed)
    assert sketch.registers == VisitorSketch(found).registers


@pytest.mark.parametrize("data", [b"", b"\x07", b"\x00\x01\x02", b"\x01" + bytes(10)])
def test_anything_else_is_not_a_sketch(data: bytes) -> None:
    with pytest.raises(ValueError, match="sketch"):
        VisitorSketch.from_bytes(data)


def test_visitor_hashes_differ_and_are_stable() -> None:
    assert visitor_hash("v1") == visitor_hash("v1") != visitor_hash("v2")
    assert 0 <= visitor_hash("v1") < 2**64
