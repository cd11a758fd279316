import pytest

from prove.errors import ProveError, UnknownNameError
from prove.registry import Registry, normalize


def test_aliases_and_spellings_resolve_to_one_canonical_name():
    reg = Registry("dataset")
    reg.add("iddaw", object(), aliases=("idd-aw",))
    for spelling in ("iddaw", "idd-aw", "IDD-AW", "idd_aw", " IddAw "):
        assert reg.canonical(spelling) == "iddaw"
        assert spelling in reg


def test_duplicate_name_or_alias_is_an_error():
    reg = Registry("model")
    reg.add("pspnet_r50", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("PSPNet-R50", 2)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("other", 3, aliases=("pspnet_r50",))
    assert reg.names() == ["pspnet_r50"]  # a failed add leaves nothing behind


def test_unknown_name_lists_choices():
    reg = Registry("strategy")
    reg.add("baseline", 1)
    reg.add("std_cutmix", 2)
    with pytest.raises(UnknownNameError) as info:
        reg.get("cutmx")
    message = str(info.value)
    assert "'cutmx'" in message and "baseline, std_cutmix" in message
    assert isinstance(info.value, ProveError)


def test_normalize():
    assert normalize("IDD-AW") == normalize("idd_aw") == "iddaw"
