#!/usr/bin/env bash
# Debian's Chromium for the browser test of the MLflow UI (tests/test_mlflow_ui.py).
#
#   bash ci/chromium.sh      install `chromium` when missing (as root, via apt-get)
#
# Never fails CI: where it cannot be installed it says why and exits 0; the test then skips
# with the reason. Playwright (the `test` extra in pyproject.toml) drives this browser; it
# downloads no browser of its own.
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "ci/chromium.sh: $(chromium --version 2>/dev/null | head -1)"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ci/chromium.sh: chromium missing and apt-get not usable here (not root or not Debian); the browser test skips" >&2
  exit 0
fi
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/tmp/chromium-install.log 2>&1; then
  (apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
     >/tmp/chromium-install.log 2>&1) || { echo "ci/chromium.sh: apt-get install chromium failed (see /tmp/chromium-install.log); the browser test skips" >&2; exit 0; }
fi
echo "ci/chromium.sh: installed $(chromium --version 2>/dev/null | head -1)"
