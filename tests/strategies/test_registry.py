"""Strategy names: parsing, families, and that every name the users use is accepted."""

import pytest

from prove.errors import ProveError
from prove.generators import GENERATORS
from prove.strategies import STANDARD, accepted_names, parse_strategy

USERS_STD = ["std_autoaugment", "std_randaugment", "std_cutmix", "std_mixup", "std_photometric_distort", "std_minimal"]


def test_users_standard_strategies_exist():
    assert set(USERS_STD) <= set(STANDARD.names())


@pytest.mark.parametrize("generator", GENERATORS.names())
def test_every_generator_is_a_strategy(generator):
    strategy = parse_strategy(f"gen_{generator}")
    assert strategy.generator == generator and strategy.uses_generated
    assert strategy.family == ("control" if GENERATORS.get(generator).family == "control" else "generative")


def test_combinations_and_families():
    combo = parse_strategy("gen_albumentations_weather+std_cutmix")
    assert combo.name == "gen_albumentations_weather+std_cutmix" and combo.family == "combination"
    assert parse_strategy("std_cutmix+gen_albumentations_weather").name == combo.name
    assert parse_strategy("baseline").family == "baseline"
    assert parse_strategy("std_mixup").family == "standard"
    assert parse_strategy("gen_random_noise").family == "control"


@pytest.mark.parametrize("bad", ["", "std_cutmix+std_mixup", "gen_a+gen_b", "baseline+gen_random_noise", "cutmix!"])
def test_bad_names(bad):
    with pytest.raises(ProveError):
        parse_strategy(bad)


def test_accepted_names_lists_everything():
    names = accepted_names()
    assert "baseline" in names and "gen_random_noise" in names and "std_cutmix" in names
