#!/usr/bin/env bash
# Offline checks of the Bicep templates, for people, `make` and CI:
#   infra/check.sh                  # render the policies when the renderer exists, run every check
#   infra/check.sh --setup-checkov  # only create .venv-checkov (checkov 3.3 + pycep-parser 0.7.1)
#   infra/check.sh --no-checkov     # fast: parse, style, parameters, load paths, security literals
# checkov lives in its own venv (.venv-checkov): it pins packages the app must not share.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="python3"
[ -x "$root/.venv/bin/python" ] && python="$root/.venv/bin/python"
args=("$@")
# With no arguments, render the policies from the configuration when there is one; without it
# the load-path checks report what is missing (the tests render a sample configuration).
if [ $# -eq 0 ] && [ -f app/apim/render.py ] && [ -f "${CONNECTOR_CONFIG:-instance/connector.toml}" ]; then
  args=(--render)
fi
exec "$python" -m infra.check "${args[@]}"
