#!/usr/bin/env bash
# Sets up prove in the active Python environment (a fresh venv or conda env), then runs the
# main job. Usage:  bash setup.sh            (install + main job)
#                   bash setup.sh --no-run   (install only)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}

if [ -z "${VIRTUAL_ENV:-}${CONDA_PREFIX:-}" ]; then
  echo "setup.sh: no active virtual environment; create one first:" >&2
  echo "  python3.11 -m venv .venv && . .venv/bin/activate && bash setup.sh" >&2
  exit 2
fi

# Keep whatever torch is already installed (a CUDA build on a GPU node stays a CUDA build).
# Where there is none, take the pinned release: on PyPI for Linux that is the CUDA build;
# on machines with a local CPU wheel of 2.13.0, pip picks that file.
if "$PY" -c "import torch" 2>/dev/null; then
  echo "setup.sh: keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
  echo "setup.sh: installing torch==2.13.0"
  "$PY" -m pip install "torch==2.13.0"
fi

"$PY" -m pip install -e ".[test]"

if [ "${1:-}" != "--no-run" ]; then
  # The main job, through MLflow Projects like any study job: the demo trains the baseline,
  # two standard and two generative strategies on the embedded weather benchmark (stages S1
  # and S2, tiny CNN), tests every checkpoint on every weather domain and writes the
  # leaderboard report (about 8 minutes on 2 CPU cores; it prints where the report is).
  prove doctor
  mlflow run . -e demo --env-manager local
fi
