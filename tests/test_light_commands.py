"""Commands that only read or write the store never import torch, mmseg or mmengine: they run
on a login node in a second, not in the 5-8 s a model stack takes to import.

Each command runs for real in a fresh interpreter (its own store), then the interpreter
reports which heavy packages it had loaded.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "mmseg", "mmengine", "mmcv")
ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "import_fixture.csv"

PROBE = """
import json, sys
from prove.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code or 0
print("PROBE " + json.dumps(dict(code=code, heavy=[m for m in %r if m in sys.modules])))
""" % (HEAVY,)


def run_probe(args: list[str], tmp_path: Path) -> dict:
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'store.db'}", "PROVE_CACHE_DIR": str(tmp_path / "cache"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("PROBE ")]
    assert line, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(line[-1][len("PROBE "):]) | {"stderr": result.stderr}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("light")


def test_the_probe_sees_heavy_imports(home):
    """The check can fail: a command that does import torch is caught."""
    probe = PROBE.replace("main(sys.argv[1:])", "import torch; main(sys.argv[1:])")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", probe, "list", "stages"], env=env, capture_output=True, text=True,
                         timeout=300).stdout
    assert '"torch"' in out


@pytest.mark.parametrize("args", [
    ["import-results", str(FIXTURE)],
    ["leaderboard", "--output", "lb", "--experiments", "prove"],
    ["ablation", "--preset", "demo", "--dry-run"],
    ["ablation", "--preset", "stage1", "--dry-run"],
    ["list", "strategies"], ["list", "generators"], ["list", "datasets"], ["list", "presets"], ["list", "models"],
    ["list", "losses"], ["models"],
], ids=lambda a: " ".join(a[:3]).replace(str(FIXTURE), "FILE"))
def test_store_only_commands_stay_light(args, home):
    outcome = run_probe(args, home)
    assert outcome["code"] == 0, outcome["stderr"][-3000:]
    assert outcome["heavy"] == [], f"prove {' '.join(args)} imported {outcome['heavy']}"


def test_server_stays_light_up_to_the_start(home):
    """`prove server` validates everything (database, auth, folders, port) without the model stack;
    here the port is taken, so it stops at the last check, before anything starts."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        outcome = run_probe(["server", "--backend-store-uri", f"sqlite:///{home / 'server.db'}", "--no-auth",
                             "--artifacts-destination", str(home / "artifacts"),
                             "--port", str(busy.getsockname()[1])], home)
    assert outcome["code"] == 2 and "cannot listen on" in outcome["stderr"]
    assert outcome["heavy"] == []
