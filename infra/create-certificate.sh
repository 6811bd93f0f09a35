#!/usr/bin/env bash
# Creates (or rolls over: a new version) the connector's certificate in Key Vault, the way
# Entra's docs recommend: self-signed RSA 2048, subject CN=<api>.<tenant>, exportable key,
# PKCS #12, e-mail to the vault's certificate contacts 45 days before expiry.
# Bicep cannot create Key Vault certificates (REFERENCE §6), hence this step.
#
#   infra/create-certificate.sh --vault NAME --subject CN=api.contoso.onmicrosoft.com \
#       [--name connector-client-cert] [--print-policy]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vault="" name="connector-client-cert" subject="" print_only=0

die() { echo "error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --vault) vault="${2:-}"; shift 2 ;;
    --name) name="${2:-}"; shift 2 ;;
    --subject) subject="${2:-}"; shift 2 ;;
    --print-policy) print_only=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (expected --vault, --name, --subject, --print-policy)" ;;
  esac
done

[[ "$subject" =~ ^CN=[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$ ]] \
  || die "--subject must look like CN=<api>.<tenant> (e.g. CN=connector.contoso.onmicrosoft.com), got '${subject}'"

# The committed policy keeps a placeholder subject; substitute the real one into a copy.
policy="$(python3 - "$here/keyvault-certificate-policy.json" "$subject" <<'PY'
import json, sys
policy = json.load(open(sys.argv[1], encoding="utf-8"))
policy["x509CertificateProperties"]["subject"] = sys.argv[2]
print(json.dumps(policy, indent=2))
PY
)"

if [ "$print_only" -eq 1 ]; then
  printf '%s\n' "$policy"
  exit 0
fi

[ -n "$vault" ] || die "--vault is required"
command -v az >/dev/null 2>&1 || die "the Azure CLI 'az' is not installed (https://aka.ms/azure-cli)"
az account show --output none 2>/dev/null || die "az is not logged in: run 'az login' first"

# The vault's certificate contacts receive the EmailContacts lifetime action's mail.
if [ -z "$(az keyvault certificate contact list --vault-name "$vault" --query 'contactList[].email' --output tsv 2>/dev/null)" ]; then
  echo "warning: vault '$vault' has no certificate contacts; add one with" >&2
  echo "  az keyvault certificate contact add --vault-name '$vault' --email you@example.com" >&2
fi

az keyvault certificate create --vault-name "$vault" --name "$name" --policy "$policy" --output none
az keyvault certificate show --vault-name "$vault" --name "$name" \
  --query '{name:name, thumbprintSha1:x509ThumbprintHex, expires:attributes.expires}' --output table
