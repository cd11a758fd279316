"""TrainSpec: validation at the edge, canonical names, identity hash, params round trip."""

import pytest

from prove.errors import ProveError
from prove.spec import TrainSpec, request_fields


def test_defaults_are_valid_and_every_field_has_help():
    spec = TrainSpec.create()
    assert spec == TrainSpec.create(**{})
    from dataclasses import fields

    assert {f.name for f in fields(TrainSpec)} == {f.name for f in request_fields(TrainSpec)}
    assert all(f.metadata["help"].strip() for f in request_fields(TrainSpec))


def test_names_are_canonicalised():
    spec = TrainSpec.create(dataset="IDD-AW", stage="S2", model="PSPNet_R50-D8", strategy="GEN_Random_Noise+STD_CutMix",
                            aux_loss="Focal", pretrained="True")
    assert (spec.dataset, spec.stage, spec.model, spec.strategy, spec.aux_loss, spec.pretrained) == (
        "iddaw", "s2", "pspnet_r50", "gen_random_noise+std_cutmix", "focal", "true")


def test_ratio_is_one_without_generated_images():
    assert TrainSpec.create(strategy="baseline", ratio=0.3).ratio == 1.0
    assert TrainSpec.create(strategy="gen_random_noise", ratio=0.25).ratio == 0.25


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("strategy", "std_cutmx", "std_cutmix"),
        ("strategy", "gen_nonexistent", "random_noise"),
        ("strategy", "gen_a+gen_b", "cannot parse"),
        ("model", "segformer_mit-b9", "segformer_mit-b3"),
        ("dataset", "kitti", "cityscapes"),
        ("ratio", 1.5, "0..1"),
        ("ratio", -0.1, "0..1"),
        ("ratio", "half", "number"),
        ("aux_loss", "dice", "lovasz, boundary, focal"),
        ("main_loss", "focal", "ce, lovasz"),
        ("stage", "s3", "s1, s2, cg"),
        ("pretrained", "/nonexistent/ckpt.pth", "existing checkpoint"),
        ("max_iters", 0, ">= 1"),
        ("batch_size", "eight", "integer"),
        ("crop_size", "512", "HxW"),
        ("lr", "-1", "positive"),
        ("precision", "fp16", "fp32, tf32, bf16"),
    ],
)
def test_bad_values_name_the_value_and_the_accepted_ones(field, value, needle):
    with pytest.raises(ProveError) as info:
        TrainSpec.create(**{field: value})
    assert str(value) in str(info.value) and needle in str(info.value)


def test_manifest_rules(tmp_path):
    with pytest.raises(ProveError, match="manifest not found"):
        TrainSpec.create(strategy="gen_random_noise", manifest=str(tmp_path / "missing.csv"))
    with pytest.raises(ProveError, match="uses no generated images"):
        (tmp_path / "m.csv").write_text("x")
        TrainSpec.create(strategy="baseline", manifest=str(tmp_path / "m.csv"))
    with pytest.raises(ProveError, match="external generator 'cycleGAN'.*manifest"):
        TrainSpec.create(strategy="gen_cyclegan")


def test_unknown_option_is_an_error():
    with pytest.raises(ProveError, match="unknown train option"):
        TrainSpec.create(ratoi=0.5)


def test_identity_hash_ignores_execution_fields_and_follows_identity(tmp_path):
    base = TrainSpec.create()
    same = TrainSpec.create(data_root=str(tmp_path), work_dir="elsewhere", checkpoint_interval=7, eval_interval=3)
    assert base.spec_hash() == same.spec_hash()
    for change in (dict(seed=1), dict(ratio=0.3, strategy="gen_random_noise"), dict(aux_loss="lovasz"),
                   dict(max_iters=10), dict(pretrained="true"), dict(crop_size="64x64")):
        assert TrainSpec.create(**change).spec_hash() != base.spec_hash(), change


def test_checkpoint_identity_is_its_content(tmp_path):
    a, b = tmp_path / "a.pth", tmp_path / "b.pth"
    a.write_bytes(b"weights")
    b.write_bytes(b"weights")
    assert TrainSpec.create(pretrained=str(a)).spec_hash() == TrainSpec.create(pretrained=str(b)).spec_hash()
    b.write_bytes(b"other")
    assert TrainSpec.create(pretrained=str(a)).spec_hash() != TrainSpec.create(pretrained=str(b)).spec_hash()


def test_params_round_trip():
    spec = TrainSpec.create(stage="s2", strategy="gen_random_noise+std_mixup", ratio=0.25, aux_loss="boundary",
                            seed=3, crop_size="64x128", lr="0.001")
    params = spec.to_params()
    assert all(isinstance(v, str) for v in params.values())
    assert TrainSpec.from_params({**params, "resolved.lr": "1"}) == spec


def test_run_name_reads_like_the_users_names():
    spec = TrainSpec.create(dataset="bdd10k", model="segformer_mit-b3", strategy="gen_random_noise", ratio=0.5,
                            aux_loss="lovasz", pretrained="true")
    assert spec.run_name == "gen_random_noise@0.5+lovasz · s1 · bdd10k · segformer_mit-b3"  # strategy first
    assert TrainSpec.create().run_name == "baseline+scratch · s1 · weather_bench · fcn_r18-tiny"
    # the batch-size study: a batch other than the protocol's (16) is in the name, 16 is not
    names = [TrainSpec.create(dataset="bdd10k", model="segformer_mit-b3", batch_size=b).run_name for b in (8, 16)]
    assert names == ["baseline+bs8 · s1 · bdd10k · segformer_mit-b3", "baseline · s1 · bdd10k · segformer_mit-b3"]


def test_cg_needs_cityscapes():
    with pytest.raises(ProveError, match="cityscapes"):
        TrainSpec.create(stage="cg")


@pytest.mark.parametrize("written,stage", [
    ("s1", "s1"), ("stage1", "s1"), ("stage_1", "s1"), ("1", "s1"), ("S1", "s1"), ("Stage 1", "s1"),
    ("s2", "s2"), ("stage2", "s2"), ("Stage-2", "s2"), ("2", "s2"),
    ("cg", "cg"), ("cityscapes-gen", "cg"), ("cityscapes_gen", "cg"), ("CG", "cg"),
])
def test_the_users_stage_spellings(written, stage):
    dataset = "cityscapes" if stage == "cg" else "weather_bench"
    assert TrainSpec.create(stage=written, dataset=dataset).stage == stage


def test_s2_trains_on_a_dataset_without_weather_tags(tmp_path):
    """S2 uses every image, so it needs no domain CSV (only S1 picks clear_day images)."""
    from prove.training.resolve import prepare_data
    from tests.data.fixtures import build_cityscapes

    tree = build_cityscapes(tmp_path / "cs")
    plan = prepare_data(TrainSpec.create(stage="s2", dataset="cityscapes", data_root=str(tree.root)))
    assert plan.train_domains is None
    with pytest.raises(ProveError, match="have no domain"):
        prepare_data(TrainSpec.create(stage="s1", dataset="cityscapes", data_root=str(tree.root)))


def test_gen_domains_are_canonical_known_domains_and_only_where_images_are_generated():
    from prove.spec import TrainSpec

    spec = TrainSpec.create(strategy="gen_albumentations_weather", gen_domains=" Night, foggy,night")
    assert spec.gen_domains == "foggy,night" and spec.identity()["gen_domains"] == "foggy,night"
    assert "+only_foggy,night" in spec.run_name
    assert "gen_domains" not in TrainSpec.create(strategy="gen_albumentations_weather").identity()
    assert TrainSpec.create(strategy="baseline", gen_domains="night").gen_domains == ""  # nothing generated
    with pytest.raises(ProveError, match="unknown domain\\(s\\) in gen_domains: 'fog'; accepted: clear_day"):
        TrainSpec.create(strategy="gen_albumentations_weather", gen_domains="fog,night")
