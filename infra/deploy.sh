#!/usr/bin/env bash
# Renders the API Management policies from the connector's configuration, runs the offline
# checks, then deploys infra/main.bicep into an existing resource group.
#
#   infra/deploy.sh --resource-group RG [--parameters infra/main.bicepparam] [--what-if]
#
# Secrets are read from the environment by the .bicepparam (e.g. CONNECTOR_PG_ADMIN_PASSWORD),
# never from the command line. Walkthrough: docs/deploy.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

rg="" params="infra/main.bicepparam" what_if=0

die() { echo "error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    -g|--resource-group) rg="${2:-}"; shift 2 ;;
    -p|--parameters) params="${2:-}"; shift 2 ;;
    --what-if) what_if=1; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (expected --resource-group, --parameters, --what-if)" ;;
  esac
done

[ -n "$rg" ] || die "--resource-group is required"
[ -f "$params" ] || die "parameters file $params not found"

# (1) Fail before doing anything when the deployment cannot happen.
command -v az >/dev/null 2>&1 \
  || die "the Azure CLI 'az' is not installed: see https://aka.ms/azure-cli (pip install azure-cli works too)"
az account show --output none 2>/dev/null \
  || die "az is not logged in: run 'az login' (and 'az account set --subscription ...')"

python="python3"
[ -x "$root/.venv/bin/python" ] && python="$root/.venv/bin/python"

# (2) The policy and its named values are compiled into the template (loadTextContent /
# loadJsonContent), so they must be rendered from the configuration first.
"$python" -m app policies render --out build/apim-policies \
  || die "rendering the API Management policies failed (see above)"

# (3) Offline checks: parse, parameters, load paths, security literals, policy vs template.
"$python" -m infra.check --no-checkov --parameters "$params" \
  || die "offline checks failed (see above); nothing was deployed"

action=create
[ "$what_if" -eq 1 ] && action=what-if
az deployment group "$action" \
  --resource-group "$rg" \
  --name "entra-api-connector-$(date -u +%Y%m%d%H%M%S)" \
  --parameters "$params"
