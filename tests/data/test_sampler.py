"""The real/generated sampler: exact batch composition, cycling, determinism, resume, ranks."""

from collections import Counter
from itertools import islice
from types import SimpleNamespace

import pytest

from prove.data.sampler import RealGeneratedSampler, real_per_batch
from prove.errors import ProveError


def dataset(n_real, n_gen):
    return SimpleNamespace(num_real=n_real, num_generated=n_gen)


def batches(sampler, count):
    stream = iter(sampler)
    return [list(islice(stream, sampler.batch_size)) for _ in range(count)]


@pytest.mark.parametrize("ratio,expected_real", [(0.0, 0), (0.25, 2), (0.5, 4), (0.3125, 3), (0.75, 6), (1.0, 8)])
def test_every_batch_has_exactly_round_b_times_ratio_real_images(ratio, expected_real):
    assert real_per_batch(8, ratio) == expected_real
    sampler = RealGeneratedSampler(dataset(13, 7), batch_size=8, ratio=ratio, seed=0)
    for batch in batches(sampler, 25):
        parts = Counter(part for part, _, _ in batch)
        assert parts[0] == expected_real and parts[1] == 8 - expected_real


def test_both_sources_cycle_through_every_image():
    sampler = RealGeneratedSampler(dataset(10, 6), batch_size=4, ratio=0.5, seed=1)
    drawn = [key for batch in batches(sampler, 30) for key in batch]
    real = [i for p, i, _ in drawn if p == 0]
    gen = [i for p, i, _ in drawn if p == 1]
    assert set(real[:10]) == set(range(10)) and set(real[10:20]) == set(range(10))  # one full pass per cycle
    assert set(gen[:6]) == set(range(6)) and set(gen[6:12]) == set(range(6))
    assert real[:10] != real[10:20]  # each cycle is a new permutation


def test_deterministic_and_resumable():
    a = RealGeneratedSampler(dataset(9, 5), batch_size=4, ratio=0.5, seed=3)
    b = RealGeneratedSampler(dataset(9, 5), batch_size=4, ratio=0.5, seed=3)
    assert batches(a, 10) == batches(b, 10)
    resumed = RealGeneratedSampler(dataset(9, 5), batch_size=4, ratio=0.5, seed=3)
    resumed.set_start(6)
    assert batches(resumed, 4) == batches(b, 10)[6:10]
    other_seed = RealGeneratedSampler(dataset(9, 5), batch_size=4, ratio=0.5, seed=4)
    assert batches(other_seed, 10) != batches(a, 10)


def test_draws_carry_distinct_seeds():
    sampler = RealGeneratedSampler(dataset(3, 3), batch_size=4, ratio=0.5, seed=0)
    seeds = [s for batch in batches(sampler, 20) for _, _, s in batch]
    assert len(set(seeds)) == len(seeds)


def test_ranks_draw_disjoint_batches(monkeypatch):
    import prove.data.sampler as module

    streams = []
    for rank in (0, 1):
        monkeypatch.setattr(module, "get_dist_info", lambda r=rank: (r, 2))
        streams.append(batches(RealGeneratedSampler(dataset(100, 100), batch_size=4, ratio=0.5, seed=0), 3))
    assert streams[0] != streams[1]
    single = RealGeneratedSampler(dataset(100, 100), batch_size=4, ratio=0.5, seed=0)
    monkeypatch.setattr(module, "get_dist_info", lambda: (0, 1))
    single = batches(RealGeneratedSampler(dataset(100, 100), batch_size=4, ratio=0.5, seed=0), 6)
    assert streams[0] == single[0::2] and streams[1] == single[1::2]  # global batch = b * world + rank


def test_missing_source_is_a_clear_error():
    with pytest.raises(ProveError, match="no generated images"):
        RealGeneratedSampler(dataset(5, 0), batch_size=4, ratio=0.5)
    RealGeneratedSampler(dataset(5, 0), batch_size=4, ratio=1.0)  # fine: none needed
