"""`prove quality`: KID and FID per generator x dataset x target domain, logged as runs of kind
`quality` (one per target domain and extractor), and scores kept elsewhere stored the same way.

The generated side: the manifest's images of this dataset aiming at the domain (an offline
generator's are made and cached as for training). The real side: the dataset's own images of
that domain, every labelled split. Each side is at most `max_images`, drawn in a seeded order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import click
import numpy as np
import pandas as pd

from prove.errors import ProveError
from prove.quality.metrics import fid, kid
from prove.quality.options import QualityOptions
from prove.quality.scores import QUALITY_COLUMNS, canonical_generator, read_scores
from prove.tracking import client, schema

METRIC_PREFIX = "quality/"


@dataclass(frozen=True)
class QualityResult:
    generator: str
    dataset: str
    target_domain: str
    features: str
    n_generated: int
    n_real: int
    fid: float
    kid: float
    kid_std: float
    run_id: str


def _echo(message: str) -> None:
    click.echo(message, err=True)


def _load(paths, limit: int, seed: int) -> list[np.ndarray]:
    from PIL import Image

    order = np.random.default_rng(seed).permutation(len(paths))[:limit]
    images = []
    for i in sorted(order):
        with Image.open(paths[i]) as im:
            images.append(np.asarray(im.convert("RGB")))
    return images


def plan(o: QualityOptions):
    """(generator, adapter, manifest path, domain -> (generated paths, real paths)), all checked
    before any feature is computed or anything is written."""
    from prove.data.base import open_adapter
    from prove.data.manifest import check_target_domains, load_manifest
    from prove.spec import TrainSpec
    from prove.training.resolve import prepare_data

    if not o.generator:
        raise ProveError("--generator is required (e.g. gen_Img2Img), or --import-csv FILE")
    generator = canonical_generator(o.generator)
    spec = TrainSpec.create(strategy=f"gen_{generator}", dataset=o.dataset, data_root=o.data_root,
                            domain_csv=o.domain_csv, manifest=o.manifest, stage="s2")
    data = prepare_data(spec)
    adapter = open_adapter(spec.dataset, data.root or None, data.domain_csv or None, data.split_csv or None)
    wanted = [d.strip() for d in o.target_domains.split(",") if d.strip()]
    if wanted:  # a light read first: a domain the manifest lacks is named before images are checked
        check_target_domains(data.manifest, adapter.name, wanted)
    manifest = load_manifest(data.manifest, {adapter.name: adapter}, dataset=adapter.name, drop_invalid=True)
    domains = wanted or sorted({e.target_domain for e in manifest.entries if e.target_domain})
    real = [s for split in adapter.splits for s in adapter.samples(split, need_domains=True)]
    sides = {}
    for domain in domains:
        generated = [e.gen_image for e in manifest.entries if e.target_domain == domain]
        reference = [s.image for s in real if s.domain == domain]
        if len(reference) < 2:
            raise ProveError(f"dataset {adapter.name!r} has {len(reference)} real image(s) of domain {domain!r}: "
                             "FID and KID need at least 2 (pick --target-domains it has)")
        sides[domain] = (generated, reference)
    return generator, adapter, data.manifest, sides


def run_quality(o: QualityOptions) -> list[QualityResult]:
    if o.import_csv:
        return import_scores(o.import_csv, o.experiment or None)
    from prove.quality.features import extractor

    generator, adapter, manifest, sides = plan(o)
    extract = extractor(o.features)
    exp_id = client.experiment_id(o.experiment or None)
    results = []
    for domain, (generated, reference) in sides.items():
        _echo(f"[quality {generator} {adapter.name} {domain}] features of {min(len(generated), o.max_images)} "
              f"generated and {min(len(reference), o.max_images)} real images ({extract.name})")
        start = time.monotonic()
        a = extract.features(_load(generated, o.max_images, 0))
        b = extract.features(_load(reference, o.max_images, 1))
        f = fid(a, b)
        k, k_std = kid(a, b, o.kid_subsets, o.kid_subset_size)
        params = dict(generator=generator, dataset=adapter.name, target_domain=domain, features=extract.name,
                      n_generated=len(a), n_real=len(b), kid_subsets=o.kid_subsets,
                      kid_subset_size=min(o.kid_subset_size, len(a), len(b)), manifest=str(manifest))
        run_id = client.create_run(exp_id, f"quality · gen_{generator} · {adapter.name} · {domain}",
                                   {schema.KIND: schema.QUALITY}, {k2: str(v) for k2, v in params.items()})
        client.log_metrics(run_id, [client.metric(METRIC_PREFIX + "FID", f, 0, 0),
                                    client.metric(METRIC_PREFIX + "KID", k, 0, 0),
                                    client.metric(METRIC_PREFIX + "KID_std", k_std, 0, 0)])
        client.end_run(run_id, "FINISHED")
        _echo(f"[quality {generator} {adapter.name} {domain}] FID {f:.2f}, KID {k:.4f} ± {k_std:.4f} "
              f"({time.monotonic() - start:.0f} s); run {run_id}")
        results.append(QualityResult(generator, adapter.name, domain, extract.name, len(a), len(b), f, k, k_std,
                                     run_id))
    return results


def import_scores(path: str, experiment: str | None) -> list[QualityResult]:
    """One run per CSV row (generator, dataset, target domain), its scores as metrics."""
    table = read_scores(path)  # every row checked before anything is stored
    exp_id = client.experiment_id(experiment)
    out = []
    for (generator, dataset, domain), g in table.groupby(["generator", "dataset", "target_domain"], sort=True):
        params = dict(generator=generator, dataset=dataset, target_domain=domain, features="imported",
                      source=str(path))
        run_id = client.create_run(exp_id, f"quality · gen_{generator} · {dataset}" + (f" · {domain}" if domain else ""),
                                   {schema.KIND: schema.QUALITY}, params)
        client.log_metrics(run_id, [client.metric(METRIC_PREFIX + r.score, r.value, 0, 0) for r in g.itertuples()])
        client.end_run(run_id, "FINISHED")
        values = dict(zip(g["score"], g["value"]))
        out.append(QualityResult(generator, dataset, domain, "imported", 0, 0, values.get("FID", float("nan")),
                                 values.get("KID", float("nan")), float("nan"), run_id))
    _echo(f"stored {len(out)} quality row(s) from {path}")
    return out


def quality_table(experiments: list[str] | None = None, tracking_uri: str | None = None) -> pd.DataFrame:
    """Every quality run of the store as the long table (QUALITY_COLUMNS)."""
    from prove.tracking.client import experiment_ids, mlflow_client, search_runs

    c = mlflow_client(tracking_uri)
    runs = search_runs(experiment_ids(experiments, c), f"tags.`{schema.KIND}` = '{schema.QUALITY}' and "
                       "attributes.status = 'FINISHED'", client=c)
    records = [dict(generator=r.data.params.get("generator", ""), dataset=r.data.params.get("dataset", ""),
                    target_domain=r.data.params.get("target_domain", ""), features=r.data.params.get("features", ""),
                    score=key[len(METRIC_PREFIX):], value=float(value), source="store", run_id=r.info.run_id)
               for r in runs for key, value in r.data.metrics.items()
               if key.startswith(METRIC_PREFIX) and not key.endswith("_std")]
    return pd.DataFrame(records, columns=list(QUALITY_COLUMNS))
