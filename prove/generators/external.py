"""The users' generators that run outside prove: names and families only.

Their images reach training through a manifest CSV (`prove.data.manifest.load_manifest`).
Declaring them here makes `gen_<method>` names checked (a typo is an error, spellings
like `StarGAN-v2` / `stargan_v2` resolve to one name) and gives analyses their family.
"""

from __future__ import annotations

from prove.generators.base import GENERATORS, Generator

_GAN = "gan"
_DIFFUSION = "diffusion"
_CLASSICAL = "classical"

# (name, family, description) - names as the users write them in `gen_<method>`.
EXTERNAL: tuple[tuple[str, str, str], ...] = (
    ("cycleGAN", _GAN, "CycleGAN: unpaired translation with cycle consistency (Zhu et al. 2017)"),
    ("CUT", _GAN, "Contrastive Unpaired Translation (Park et al. 2020)"),
    ("stargan_v2", _GAN, "StarGAN v2: multi-domain translation with style codes (Choi et al. 2020)"),
    ("SUSTechGAN", _GAN, "SUSTechGAN: adverse-weather image generation for driving scenes"),
    ("TSIT", _GAN, "TSIT: two-stream image-to-image translation (Jiang et al. 2020)"),
    ("LANIT", _GAN, "LANIT: language-driven unpaired translation (Park et al. 2023)"),
    ("Attribute_Hallucination", _GAN, "scene attribute manipulation by hallucination (Karacan et al.)"),
    ("cyclediffusion", _DIFFUSION, "CycleDiffusion: zero-shot translation via DDPM latents (Wu & De la Torre 2023)"),
    ("InstructPix2Pix", _DIFFUSION, "instruction-driven image editing (Brooks et al. 2023)"),
    ("Img2Img", _DIFFUSION, "Stable Diffusion image-to-image (SDEdit-style noising + denoising)"),
    ("flux_kontext", _DIFFUSION, "FLUX.1 Kontext in-context image editing"),
    ("step1x_edit", _DIFFUSION, "Step1X-Edit instruction image editing"),
    ("qwen_image_edit", _DIFFUSION, "Qwen-Image-Edit instruction image editing"),
    ("UniControl", _DIFFUSION, "UniControl: unified controllable diffusion (Qin et al. 2023)"),
    ("VisualCloze", _DIFFUSION, "VisualCloze: visual in-context generation"),
    ("CNetSeg", _DIFFUSION, "ControlNet conditioned on the segmentation map"),
    ("Weather_Effect_Generator", _CLASSICAL, "rendered rain/snow/fog effects (image processing)"),
    ("automold", _CLASSICAL, "Automold road-image weather augmentation library"),
    ("augmenters", _CLASSICAL, "imgaug weather augmenters (Clouds, Fog, Snowflakes, Rain)"),
)

for _name, _family, _description in EXTERNAL:
    GENERATORS.declare(Generator(_name, _family, _description, external=True))
