"""The options of `prove quality` (CLI and MLproject read them)."""

from __future__ import annotations

from dataclasses import dataclass

from prove.spec import EXPERIMENT_HELP, TrainSpec, help_of, option


@dataclass(frozen=True)
class QualityOptions:
    generator: str = option("", "The generator, as its strategy (gen_Img2Img) or its name (Img2Img); "
                            "`prove list generators`.")
    dataset: str = option("weather_bench", "Dataset whose real images of each target domain are the reference.")
    data_root: str = option("", help_of(TrainSpec, "data_root"))
    domain_csv: str = option("", help_of(TrainSpec, "domain_csv"))
    manifest: str = option("", help_of(TrainSpec, "manifest"))
    target_domains: str = option("", "Target domains to score, comma-separated (default: every one the manifest "
                                 "aims at for this dataset).")
    features: str = option("", "Feature extractor: inception (torch-fidelity; fetches its weights once) or the "
                           "run id of a finished prove training (its encoder; works offline).")
    max_images: int = option(200, "At most this many images per side (generated, real), drawn in a seeded order.",
                             minimum=2)
    kid_subsets: int = option(100, "KID: random subsets averaged.", minimum=1)
    kid_subset_size: int = option(1000, "KID: features per subset (capped by the smaller side).", minimum=2)
    import_csv: str = option("", "Instead: store scores the group already has (generator, dataset[, "
                             "target_domain] and numeric columns such as FID, LPIPS, CLIP-FID) from this CSV.")
    experiment: str = option("", EXPERIMENT_HELP)
