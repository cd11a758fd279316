"""The users' generators that run outside prove: names and families only.

Their images reach training through a manifest CSV (`prove.data.manifest.load_manifest`).
Declaring them here makes `gen_<method>` names checked (a typo is an error, spellings
like `StarGAN-v2` / `stargan_v2` resolve to one name) and gives analyses their family.

The canonical name of each is the users' own identifier, exactly as their CSVs, folders and
job names write it (`gen_IP2P`, `gen_Qwen_Image_Edit`), so prove's tables and theirs match by
name; the descriptive names are aliases. `step1x_new` and `step1x_v1p2` are two different
models (prove's earlier single `step1x_edit` was ambiguous and is gone). A method that is not
here is declared without Python in a `generators.yaml` (prove.generators.declared).
"""

from __future__ import annotations

from prove.generators.base import GENERATORS, Generator

_GAN = "gan"
_DIFFUSION = "diffusion"
_CLASSICAL = "classical"

# (name, family, description, aliases) - names as the users write them in `gen_<method>`.
EXTERNAL: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("cycleGAN", _GAN, "CycleGAN: unpaired translation with cycle consistency (Zhu et al. 2017)", ()),
    ("CUT", _GAN, "Contrastive Unpaired Translation (Park et al. 2020)", ("contrastive_unpaired_translation",)),
    ("stargan_v2", _GAN, "StarGAN v2: multi-domain translation with style codes (Choi et al. 2020)", ()),
    ("SUSTechGAN", _GAN, "SUSTechGAN: adverse-weather image generation for driving scenes", ()),
    ("TSIT", _GAN, "TSIT: two-stream image-to-image translation (Jiang et al. 2020)", ()),
    ("LANIT", _GAN, "LANIT: language-driven unpaired translation (Park et al. 2023)", ()),
    ("Attribute_Hallucination", _GAN, "scene attribute manipulation by hallucination (Karacan et al.)", ()),
    ("cyclediffusion", _DIFFUSION, "CycleDiffusion: zero-shot translation via DDPM latents (Wu & De la Torre 2023)",
     ()),
    ("IP2P", _DIFFUSION, "InstructPix2Pix: instruction-driven image editing (Brooks et al. 2023)",
     ("InstructPix2Pix", "instruct_pix2pix")),
    ("Img2Img", _DIFFUSION, "Stable Diffusion image-to-image (SDEdit-style noising + denoising)",
     ("sd_img2img", "SDEdit")),
    ("flux_kontext", _DIFFUSION, "FLUX.1 Kontext in-context image editing", ("FLUX.1 Kontext", "flux1_kontext")),
    ("step1x_new", _DIFFUSION, "Step1X-Edit, the users' newer checkpoint (not v1.2)", ()),
    ("step1x_v1p2", _DIFFUSION, "Step1X-Edit v1.2", ("Step1X-Edit v1.2", "step1x_edit_v1.2")),
    ("Qwen_Image_Edit", _DIFFUSION, "Qwen-Image-Edit instruction image editing", ()),
    ("UniControl", _DIFFUSION, "UniControl: unified controllable diffusion (Qin et al. 2023)", ()),
    ("VisualCloze", _DIFFUSION, "VisualCloze: visual in-context generation", ()),
    ("CNetSeg", _DIFFUSION, "ControlNet conditioned on the segmentation map", ("ControlNet-Seg", "controlnet_seg")),
    ("Weather_Effect_Generator", _CLASSICAL, "rendered rain/snow/fog effects (image processing)", ()),
    ("automold", _CLASSICAL, "Automold road-image weather augmentation library", ()),
    ("augmenters", _CLASSICAL, "imgaug weather augmenters (Clouds, Fog, Snowflakes, Rain)", ("imgaug_weather",)),
)

for _name, _family, _description, _aliases in EXTERNAL:
    GENERATORS.declare(Generator(_name, _family, _description, external=True, aliases=_aliases))
