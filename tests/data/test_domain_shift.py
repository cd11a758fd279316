"""The embedded benchmark shows a real domain shift that training on all domains narrows.

Trains the tiny CNN for 300 iterations on clear_day (S1) and on all domains (S2), as the
README's demo does, and evaluates both on every test domain. Measured when written:
S1 clear_day 24.0 mIoU, night 0.6, foggy 5.1; S2 gaps 4.4 (night) and -0.2 (foggy).
"""

import pytest

from prove.data.domains import DOMAINS
from prove.evaluation.inference import evaluate, load_model, evaluation_dataset
from prove.spec import TrainSpec
from prove.training.run import train
from tests.support import store_uri

ITERS = 300


def _per_domain(stage, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri(tmp_path / 'shift.db'))
    outcome = train(TrainSpec.create(stage=stage, max_iters=ITERS, eval_interval=ITERS, work_dir=str(tmp_path / "w")))
    model = load_model(f"{outcome.work_dir}/config.py", f"{outcome.work_dir}/iter_{ITERS}.pth")
    results = evaluate(model, evaluation_dataset("weather_bench", "test")).results()
    assert set(DOMAINS) <= set(results)
    return {d: results[d]["mIoU"] for d in DOMAINS}


@pytest.mark.slow(140)
def test_clear_day_training_drops_on_night_and_fog_and_all_domain_training_narrows_it(tmp_path, monkeypatch):
    s1 = _per_domain("s1", tmp_path, monkeypatch)
    s2 = _per_domain("s2", tmp_path, monkeypatch)
    s1_night, s1_fog = s1["clear_day"] - s1["night"], s1["clear_day"] - s1["foggy"]
    s2_night, s2_fog = s2["clear_day"] - s2["night"], s2["clear_day"] - s2["foggy"]
    assert s1["clear_day"] > 15, s1  # it learned something
    assert s1_night > 10 and s1_fog > 8, s1  # a clear shift, not noise
    assert s2_night < s1_night - 5 and s2_fog < s1_fog - 5, (s1, s2)  # S2 narrows both gaps
