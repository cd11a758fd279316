"""The zoo's declarations: one `ModelCard` per model, in the users' names.

Configs are mmseg 1.2.2's own model-zoo files (Cityscapes versions where mmseg has one);
pretrained URLs are the ImageNet backbones those configs name (a test checks they agree).
"""

from __future__ import annotations

from prove.models.card import MODELS, ModelCard

_MMSEG_PRETRAIN = "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain"

MODELS.declare(ModelCard(
    name="segformer_mit-b3",
    family="segformer",
    description="SegFormer, MiT-B3 encoder (45M params), all-MLP head",
    config="segformer/segformer_mit-b3_8xb1-160k_cityscapes-1024x1024.py",
    pretrained=f"{_MMSEG_PRETRAIN}/segformer/mit_b3_20220624-13b1141c.pth",
))
MODELS.declare(ModelCard(
    name="segformer_mit-b5",
    family="segformer",
    description="SegFormer, MiT-B5 encoder (82M params), all-MLP head",
    config="segformer/segformer_mit-b5_8xb1-160k_cityscapes-1024x1024.py",
    pretrained=f"{_MMSEG_PRETRAIN}/segformer/mit_b5_20220624-658746d9.pth",
))
MODELS.declare(ModelCard(
    name="pspnet_r50",
    family="pspnet",
    description="PSPNet, ResNet-50-V1c dilated (output stride 8), pyramid pooling head + FCN auxiliary head",
    config="pspnet/pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py",
    pretrained="open-mmlab://resnet50_v1c",
    aliases=("pspnet_r50-d8",),
))
MODELS.declare(ModelCard(
    name="deeplabv3plus_r50",
    family="deeplabv3plus",
    description="DeepLabV3+, ResNet-50-V1c dilated (output stride 8), ASPP + decoder, FCN auxiliary head",
    config="deeplabv3plus/deeplabv3plus_r50-d8_4xb2-80k_cityscapes-512x1024.py",
    pretrained="open-mmlab://resnet50_v1c",
    aliases=("deeplabv3plus_r50-d8",),
))
MODELS.declare(ModelCard(
    name="segnext_mscan-b",
    family="segnext",
    description="SegNeXt, MSCAN-B encoder, Hamburger (LightHam) head",
    config="segnext/segnext_mscan-b_1xb16-adamw-160k_ade20k-512x512.py",  # mmseg has no Cityscapes config
    pretrained=f"{_MMSEG_PRETRAIN}/segnext/mscan_b_20230227-3ab7d230.pth",
))
MODELS.declare(ModelCard(
    name="hrnet_hr48",
    family="hrnet",
    description="HRNetV2-W48 with an FCN head",
    config="hrnet/fcn_hr48_4xb2-80k_cityscapes-512x1024.py",
    pretrained="open-mmlab://msra/hrnetv2_w48",
    aliases=("fcn_hr48",),
))
MODELS.declare(ModelCard(
    name="mask2former_swin-b",
    family="mask2former",
    description="Mask2Former, Swin-B (ImageNet-22k, 384) encoder; needs mmdet and compiled mmcv ops",
    config="mask2former/mask2former_swin-b-in22k-384x384-pre_8xb2-90k_cityscapes-512x1024.py",
    pretrained=f"{_MMSEG_PRETRAIN}/swin/swin_base_patch4_window12_384_22k_20220317-e5c09f74.pth",
    requires=("mmdet", "mmcv-ops"),
))

# --- tiny models for tests and the demo ----------------------------------------------------
MODELS.declare(ModelCard(
    name="segformer_mit-b0",
    family="segformer",
    description="SegFormer, MiT-B0 encoder (3.7M params): the smallest real SegFormer",
    config="segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py",
    pretrained=f"{_MMSEG_PRETRAIN}/segformer/mit_b0_20220624-7e0fe6dd.pth",
    tiny=True,
))


def _fcn_r18_tiny() -> dict:
    # A CPU-sized CNN from mmseg's own classes: ResNet-18-V1c at 1/4 width, dilated to
    # output stride 8, one-conv FCN head. ~0.9M params; trains in minutes on 2 cores.
    norm = dict(type="BN", requires_grad=True)
    return dict(
        type="EncoderDecoder",
        data_preprocessor=dict(
            type="SegDataPreProcessor",
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255,
        ),
        pretrained=None,
        backbone=dict(
            type="ResNetV1c", depth=18, stem_channels=16, base_channels=16, num_stages=4,
            out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
            norm_cfg=norm, norm_eval=False, style="pytorch", contract_dilation=True,
        ),
        decode_head=dict(
            type="FCNHead", in_channels=128, in_index=3, channels=64, num_convs=1,
            concat_input=True, dropout_ratio=0.1, num_classes=19, norm_cfg=norm, align_corners=False,
            loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
        ),
        train_cfg=dict(),
        test_cfg=dict(mode="whole"),
    )


def _fcn_r18_tiny_recipe() -> dict:
    # AdamW rather than mmseg's SGD 0.01: from scratch on a CPU budget of a few hundred
    # iterations it converges several times faster (measured on the embedded benchmark).
    return dict(
        optim_wrapper=dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=2e-3, betas=(0.9, 0.999), weight_decay=1e-4)),
        lr_power=0.9, lr_eta_min=1e-5, base_batch_size=8,
    )


MODELS.declare(ModelCard(
    name="fcn_r18-tiny",
    family="fcn",
    description="FCN on a quarter-width ResNet-18-V1c (~0.9M params): the demo/test CNN",
    inline=_fcn_r18_tiny,
    recipe=_fcn_r18_tiny_recipe,
    tiny=True,
    channels_last=True,  # faster on CPU: bench/channels_last.py, docs/performance.md
))
