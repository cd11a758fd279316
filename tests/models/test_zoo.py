"""Every model in the zoo builds from mmseg's classes and trains one step on CPU."""

import pytest
import torch

from prove.training.doctor import random_batch, train_step
from prove.errors import MissingDependencyError, ProveError
from prove.models import MODELS, build_model, check_available, get_model_card, list_models, model_config, upstream_model_config

USERS_MODELS = ["segformer_mit-b3", "segformer_mit-b5", "pspnet_r50", "deeplabv3plus_r50",
                "segnext_mscan-b", "hrnet_hr48", "mask2former_swin-b"]


def test_zoo_has_the_users_models_and_tiny_ones():
    names = list_models()
    assert set(USERS_MODELS) <= set(names)
    assert {"segformer_mit-b0", "fcn_r18-tiny"} <= {n for n in names if get_model_card(n).tiny}
    assert len(list_models(include_tiny=False)) >= 7


@pytest.mark.parametrize("name", list_models())
def test_model_trains_one_step_on_cpu(name):
    card = get_model_card(name)
    if not card.available:
        with pytest.raises(MissingDependencyError) as info:
            build_model(name)
        for requirement in card.missing_requirements():
            assert {"mmdet": "mmdet", "mmcv-ops": "mmcv"}[requirement] in str(info.value)
        pytest.skip(f"{name} needs {', '.join(card.missing_requirements())}, not installed here (error message checked)")
    torch.manual_seed(0)
    model = build_model(name, crop_size=(64, 64)).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    loss = train_step(model, optimizer, random_batch(size=64, batch=2))
    assert torch.isfinite(torch.tensor(loss))
    changed = [k for k, v in model.named_parameters() if not torch.equal(before[k], v)]
    assert changed, "no parameter changed after an optimizer step"
    model.eval()
    with torch.no_grad():
        logits = model(torch.zeros(1, 3, 64, 64), mode="tensor")
        predicted = model.test_step(random_batch(size=64, batch=1))  # mmseg's inference path (test_cfg)
    assert logits.shape[1] == 19
    assert predicted[0].pred_sem_seg.data.shape[-2:] == (64, 64)


@pytest.mark.parametrize("name", list_models())
def test_model_config_adapts_classes_norm_and_init(name):
    cfg = model_config(name, crop_size=(96, 128))
    text = repr(cfg)
    assert "SyncBN" not in text
    heads = [cfg["decode_head"], *([cfg["auxiliary_head"]] if isinstance(cfg.get("auxiliary_head"), dict) else cfg.get("auxiliary_head") or [])]
    for head in heads:
        assert head["num_classes"] == 19
    assert cfg["data_preprocessor"].get("size", (96, 128)) == (96, 128)
    assert "init_cfg" not in cfg["backbone"] and cfg["pretrained"] is None  # from scratch by default


@pytest.mark.parametrize("name", [n for n in list_models() if get_model_card(n).config])
def test_pretrained_url_is_the_one_mmseg_config_names(name):
    card = get_model_card(name)
    upstream = upstream_model_config(card)
    named = (upstream["backbone"].get("init_cfg") or {}).get("checkpoint") or upstream.get("pretrained")
    assert card.pretrained == named
    cfg = model_config(name, pretrained=True)
    assert cfg["backbone"]["init_cfg"] == dict(type="Pretrained", checkpoint=card.pretrained)


def test_pretrained_local_path(tmp_path):
    ckpt = tmp_path / "backbone.pth"
    ckpt.write_bytes(b"x")
    assert model_config("fcn_r18-tiny", pretrained=str(ckpt))["backbone"]["init_cfg"]["checkpoint"] == str(ckpt)
    with pytest.raises(ProveError, match="not found"):
        model_config("fcn_r18-tiny", pretrained=str(tmp_path / "missing.pth"))
    with pytest.raises(ProveError, match="no pretrained weights"):
        model_config("fcn_r18-tiny", pretrained=True)


def test_unknown_model_names_choices():
    with pytest.raises(ProveError) as info:
        check_available("segformer-b9")
    assert "segformer_mit-b3" in str(info.value)
    assert MODELS.canonical("PSPNet_R50-D8") == "pspnet_r50"
