"""Ratio schedules: the real images of every batch, by hand, through the sampler, after a resume
and across ranks; and how a spec names them."""

from collections import Counter
from itertools import islice
from types import SimpleNamespace

import pytest

from prove.data.sampler import RealGeneratedSampler
from prove.data.schedules import SCHEDULES, real_counts
from prove.errors import ProveError
from prove.spec import TrainSpec

# batch 8, ratio 0.25 (2 real images at full strength), 10 iterations; by hand:
# linear: 8 * (1 - 0.75 * i / 9) rounded half up; early/late: the first 5 iterations vs the last 5
BY_HAND = {
    "constant": [2] * 10,
    "linear": [8, 7, 7, 6, 5, 5, 4, 3, 3, 2],
    "early": [2] * 5 + [8] * 5,
    "late": [8] * 5 + [2] * 5,
}


def sampler(schedule, n_real=50, n_gen=30, split=0.5, max_iters=10, batch_size=8, ratio=0.25, seed=0):
    return RealGeneratedSampler(SimpleNamespace(num_real=n_real, num_generated=n_gen), batch_size=batch_size,
                                ratio=ratio, seed=seed, schedule=schedule, split=split, max_iters=max_iters)


def batches(s, count):
    stream = iter(s)
    return [list(islice(stream, s.batch_size)) for _ in range(count)]


@pytest.mark.parametrize("schedule", sorted(BY_HAND))
def test_every_batch_has_the_scheduled_number_of_real_images(schedule):
    assert list(real_counts(schedule, 0.25, 0.5, 8, 10)) == BY_HAND[schedule]
    drawn = [Counter(part for part, _, _ in batch) for batch in batches(sampler(schedule), 10)]
    assert [c[0] for c in drawn] == BY_HAND[schedule]
    assert all(c[0] + c[1] == 8 for c in drawn)


def test_the_split_moves_the_boundary():
    assert list(real_counts("early", 0.25, 0.3, 8, 10)) == [2, 2, 2] + [8] * 7
    assert list(real_counts("late", 0.25, 0.8, 8, 10)) == [8] * 8 + [2, 2]


def test_constant_draws_exactly_what_an_unscheduled_sampler_draws():
    plain = RealGeneratedSampler(SimpleNamespace(num_real=50, num_generated=30), batch_size=8, ratio=0.25, seed=0)
    assert batches(sampler("constant"), 12) == batches(plain, 12)


@pytest.mark.parametrize("schedule", SCHEDULES.names())  # every declared one, a lab's own included
def test_each_source_still_cycles_through_every_image_once_per_cycle(schedule):
    real = [i for batch in batches(sampler(schedule, n_real=13, n_gen=7, max_iters=40), 40)
            for part, i, _ in batch if part == 0]
    gen = [i for batch in batches(sampler(schedule, n_real=13, n_gen=7, max_iters=40), 40)
           for part, i, _ in batch if part == 1]
    for stream, n in ((real, 13), (gen, 7)):
        full = len(stream) // n
        assert full >= 2
        for c in range(full):
            assert sorted(stream[c * n:(c + 1) * n]) == list(range(n))  # no image twice before all were drawn


@pytest.mark.parametrize("schedule", SCHEDULES.names())
def test_a_resumed_sampler_continues_on_the_same_composition(schedule):
    whole = batches(sampler(schedule), 10)
    resumed = sampler(schedule)
    resumed.set_start(6)  # a run resumed at iteration 6
    assert batches(resumed, 4) == whole[6:]
    # past max_iters (a prefetched batch) it keeps the last composition
    last = real_counts(schedule, 0.25, 0.5, 8, 10)[-1]
    assert Counter(p for p, _, _ in batches(resumed, 5)[-1])[0] == last


def test_ranks_draw_the_same_composition_from_disjoint_images(monkeypatch):
    import prove.data.sampler as module

    streams = []
    for rank in (0, 1):
        monkeypatch.setattr(module, "get_dist_info", lambda r=rank: (r, 2))
        streams.append(batches(sampler("linear", n_real=400, n_gen=400), 10))
    for b in range(10):
        for part in (0, 1):
            counts = [sum(1 for p, _, _ in streams[r][b] if p == part) for r in (0, 1)]
            assert counts[0] == counts[1]  # the schedule follows the iteration, on every rank
    for part in (0, 1):
        drawn = [[i for batch in streams[r] for p, i, _ in batch if p == part] for r in (0, 1)]
        assert not set(drawn[0]) & set(drawn[1])  # within the first cycle, no image on both ranks
        assert len(set(drawn[0] + drawn[1])) == len(drawn[0]) + len(drawn[1])


def test_schedules_are_part_of_the_identity_only_where_they_change_the_data():
    constant = TrainSpec.create(strategy="gen_random_noise", ratio=0.25)
    assert "ratio_schedule" not in constant.identity() and "ratio_schedule_split" not in constant.identity()
    linear = TrainSpec.create(strategy="gen_random_noise", ratio=0.25, ratio_schedule="linear")
    assert linear.identity()["ratio_schedule"] == "linear" and "ratio_schedule_split" not in linear.identity()
    early = TrainSpec.create(strategy="gen_random_noise", ratio=0.25, ratio_schedule="early")
    later = TrainSpec.create(strategy="gen_random_noise", ratio=0.25, ratio_schedule="early", ratio_schedule_split=0.7)
    hashes = {s.spec_hash() for s in (constant, linear, early, later)}
    assert len(hashes) == 4
    # the tiny model trains from scratch (+scratch); the schedule is in the name the UI shows
    assert [s.run_name.split(" · ")[0] for s in (constant, linear, later)] == [
        "gen_random_noise@0.25+scratch", "gen_random_noise@0.25+sched_linear+scratch",
        "gen_random_noise@0.25+sched_early0.7+scratch"]
    assert TrainSpec.create(strategy="gen_random_noise", ratio=0.25, ratio_schedule="Ramp").ratio_schedule == "linear"
    # a run with no generated images has nothing to schedule
    assert TrainSpec.create(strategy="baseline", ratio_schedule="late").spec_hash() == TrainSpec.create().spec_hash()


@pytest.mark.parametrize("raw, needle", [
    ({"ratio_schedule": "cosine"}, "unknown ratio_schedule 'cosine'; accepted: constant, linear, early, late"),
    ({"ratio_schedule": "early", "ratio_schedule_split": 1.0}, "must be in (0, 1)"),
    ({"ratio_schedule": "early", "ratio_schedule_split": "half"}, "invalid ratio_schedule_split 'half'"),
    ({"ratio_schedule": "linear", "ratio_schedule_split": 0.3}, "has no effect with ratio_schedule 'linear'"),
])
def test_bad_schedules_are_named(raw, needle):
    with pytest.raises(ProveError) as err:
        TrainSpec.create(strategy="gen_random_noise", ratio=0.25, **raw)
    assert needle in str(err.value)
