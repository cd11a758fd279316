import re

import pytest

from prove.errors import ProveError, UnknownNameError
from prove.registry import Registry, normalize
from tests.support import store_uri


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


def test_declare_uses_the_entrys_own_name_and_aliases():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Entry:
        name: str
        description: str
        aliases: tuple = ()

    reg = Registry("thing")
    entry = reg.declare(Entry("Mapillary", "d", aliases=("vistas",)))
    assert reg.get("VISTAS") is entry and reg.names() == ["Mapillary"]


def test_every_registry_entry_is_described():
    """`prove list` and the docs tables show a description for everything declared."""
    from prove.cli.listing import LISTINGS

    for kind, listing in LISTINGS.items():
        rows = listing.rows()
        assert rows, kind
        assert all(str(r["description"]).strip() for r in rows), kind


def test_model_zoo_is_filled_on_import():
    """`MODELS` knows the zoo as soon as prove.models is imported (no list_models() call first)."""
    import subprocess
    import sys

    code = "from prove.models import MODELS; print(len(MODELS), 'segformer_mit-b3' in MODELS)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout.split()
    assert int(out[0]) >= 9 and out[1] == "True"


CONTRIBUTION = '''
from prove.generators import GENERATORS, Generator
from prove.models import MODELS, ModelCard
from prove.models.zoo import _fcn_r18_tiny, _fcn_r18_tiny_recipe
from prove.strategies import STANDARD, StandardStrategy

STANDARD.declare(StandardStrategy("std_contrib", "a contributor's photometric strategy",
                                  transforms=(dict(type="PhotoMetricDistortion", brightness_delta=8),)))
GENERATORS.declare(Generator("contrib_gan", "gan", "a contributor's GAN, run elsewhere", external=True))
MODELS.declare(ModelCard(name="contrib_net", family="fcn", description="a contributor's CNN",
                         inline=_fcn_r18_tiny, recipe=_fcn_r18_tiny_recipe, tiny=True))
'''


@pytest.mark.slow
def test_one_declaration_reaches_every_consumer(tmp_path):
    """Adding a strategy, a generator or a model is one declaration (here in a plugin module,
    as a lab would add its own): it is listed, validated by the CLI, planned by presets and
    sweeps, in the generated docs tables, and run by the registry-parametrized tests."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "contrib_plugin.py").write_text(CONTRIBUTION)
    env = {**os.environ, "PROVE_PLUGINS": "contrib_plugin", "PYTHONPATH": f"{tmp_path}:{root}",
           "MLFLOW_TRACKING_URI": store_uri(tmp_path / 'store.db'), "PROVE_CACHE_DIR": str(tmp_path / "cache")}

    def prove(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "prove.cli", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)

    names = {kind: {r["name"] for r in json.loads(prove("list", kind, "--format", "json").stdout)}
             for kind in ("strategies", "generators", "models")}
    assert {"std_contrib", "gen_contrib_gan"} <= names["strategies"]
    assert "contrib_gan" in names["generators"] and "contrib_net" in names["models"]

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("grid: {strategy: [std_contrib, gen_contrib_gan+std_contrib], model: [contrib_net]}\n")
    planned = prove("ablation", "--sweep", str(sweep), "--dry-run")
    assert planned.returncode == 0, planned.stderr[-2000:]
    assert re.search(r"std_contrib\S* · s1 · weather_bench · contrib_net", planned.stdout) and "blocked 1" in planned.stdout
    assert prove("train", "--strategy", "std_contrb", "--model", "contrib_net").returncode == 2  # typos still fail
    every = prove("ablation", "--preset", "all-strategies", "--dry-run", "--plan-csv", str(tmp_path / "plan.csv"))
    assert every.returncode == 0 and "std_contrib" in (tmp_path / "plan.csv").read_text()

    for kind, name in (("strategies", "std_contrib"), ("generators", "contrib_gan"), ("models", "contrib_net")):
        assert name in prove("list", kind, "--format", "markdown").stdout  # the docs tables' generator
    # prove's own docs list prove's own entries: a lab's plugin never makes them stale
    # (tests/test_docs.py checks that an entry declared inside prove does reach them)
    assert prove("generate", "--check").returncode == 0

    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "contrib",
                            "tests/strategies/test_in_pipeline.py", "tests/models/test_zoo.py",
                            "tests/generators/test_generators.py"],
                           env=env, cwd=root, capture_output=True, text=True, timeout=900)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert re.search(r"(\d+) passed", tests.stdout) and int(re.search(r"(\d+) passed", tests.stdout)[1]) >= 4
