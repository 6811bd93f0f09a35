#!/usr/bin/env bash
# Exports the connector's Key Vault certificate as the .pfx Entra's API connector accepts:
# Key Vault hands out the PKCS #12 without a password; Entra wants one, protected with
# TripleDES-SHA1 (PBES1) and a SHA-1 MAC (REFERENCE §2), which `openssl pkcs12 -legacy` writes.
#
#   CONNECTOR_PFX_PASSWORD=... infra/export-entra-pfx.sh --vault NAME --out connector-entra.pfx \
#       [--name connector-client-cert]
#
# The password comes from CONNECTOR_PFX_PASSWORD or a prompt, never the command line. The
# unprotected key only touches a private temporary directory, removed on exit.
set -euo pipefail

vault="" name="connector-client-cert" out=""
die() { echo "error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --vault) vault="${2:-}"; shift 2 ;;
    --name) name="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (expected --vault, --name, --out)" ;;
  esac
done
[ -n "$vault" ] || die "--vault is required"
[ -n "$out" ] || die "--out is required"
[ -e "$out" ] && die "$out exists: remove it or choose another --out"
command -v openssl >/dev/null 2>&1 || die "openssl is not installed"
command -v az >/dev/null 2>&1 || die "the Azure CLI 'az' is not installed (https://aka.ms/azure-cli)"
az account show --output none 2>/dev/null || die "az is not logged in: run 'az login' first"

if [ -z "${CONNECTOR_PFX_PASSWORD:-}" ]; then
  [ -t 0 ] || die "set CONNECTOR_PFX_PASSWORD (no terminal to prompt on)"
  read -rsp "Password for $out: " CONNECTOR_PFX_PASSWORD; echo
  read -rsp "Again: " again; echo
  [ "$CONNECTOR_PFX_PASSWORD" = "$again" ] || die "the passwords differ"
fi
[ "${#CONNECTOR_PFX_PASSWORD}" -ge 12 ] || die "expected a password of at least 12 characters"
export CONNECTOR_PFX_PASSWORD

umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The certificate's secret holds the PKCS #12 (content type application/x-pkcs12).
az keyvault secret download --vault-name "$vault" --name "$name" --encoding base64 \
  --file "$work/kv.pfx" --output none
openssl pkcs12 -in "$work/kv.pfx" -passin pass: -nodes -out "$work/kv.pem" 2>/dev/null \
  || openssl pkcs12 -legacy -in "$work/kv.pfx" -passin pass: -nodes -out "$work/kv.pem"
openssl pkcs12 -export -legacy -in "$work/kv.pem" -out "$out" -passout env:CONNECTOR_PFX_PASSWORD
chmod 600 "$out"
echo "wrote $out (3DES-SHA1, SHA-1 MAC): upload it to the API connector in Entra"
openssl x509 -in "$work/kv.pem" -noout -subject -enddate -fingerprint -sha1
