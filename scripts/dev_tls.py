"""Development certificates for `make run-tls`: gunicorn terminates TLS and requires a client cert.

Made on first run (again when missing or expired), in instance/tls/:
  server.pem, server.key   self-signed for 127.0.0.1 and localhost (--server-key rsa2048|ec-p256)
  client.pem, client.key   shaped like Entra's: self-signed RSA 2048, no SAN, clientAuth
  client.pfx, pfx.env      the same, encrypted the way Entra accepts; its password (0600)
plus instance/connector-tls.toml (certificate auth, the client pinned by SHA-256) and
instance/tls.env (the CONNECTOR_TLS_* variables that `make run-tls` exports).
Private keys are written 0600. Nothing here is for production: `python -m app certs create`.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.certs.build import CertificateSpec, build_certificate
from app.certs.keys import SigningKey, generate_key, key_pem
from app.certs.pfx import entra_pfx
from app.certs.x509util import thumbprint_sha256

PORT = 8443
_PEM = Encoding.PEM
CLIENT_SUBJECT = "CN=api.connector.local"

CONFIG = """\
# Development configuration made by `make run-tls` (scripts/dev_tls.py): gunicorn terminates
# TLS and requires a client certificate; the app pins it. Keys: connector.example.toml.
environment = "development"

[auth]
methods = ["certificate"]

[auth.certificate]
sources = ["tls"]
thumbprints = ["{pin}"]

[rules.email_domains]
deny = ["mailinator.com", "example.invalid"]
"""

USAGE = """
Serving on https://127.0.0.1:{port} with a required client certificate. Try:

  curl -s --cacert {d}/server.pem --cert {d}/client.pem --key {d}/client.key \\
       -H 'Content-Type: application/json' \\
       -d '{{"email": "ada@contoso.com", "ui_locales": "en-US"}}' \\
       https://127.0.0.1:{port}/api/connector/post-attribute-collection

Without --cert the handshake itself fails. The client certificate as Entra would upload it:
{d}/client.pfx (its password: CONNECTOR_PFX_PASSWORD in {d}/pfx.env).
"""


def _write(path: Path, data: bytes, private: bool) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)


def _usable(path: Path, now: datetime) -> bool:
    if not path.is_file():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc > now + timedelta(days=7)


def _server_certificate(key: SigningKey, now: datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    hosts = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(hosts), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )


def make(instance: Path, server_key_type: str, now: datetime) -> list[str]:
    """Create whatever is missing or about to expire; the names of the files written."""
    d = instance / "tls"
    d.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    if not _usable(d / "server.pem", now):
        key = generate_key(server_key_type)
        _write(d / "server.key", key_pem(key, None), private=True)
        _write(d / "server.pem", _server_certificate(key, now).public_bytes(_PEM), private=False)
        written += [str(d / "server.pem"), str(d / "server.key")]
    env_path = instance / "tls.env"
    if not _usable(d / "client.pem", now) or not env_path.is_file():
        key = generate_key("rsa2048")
        spec = CertificateSpec(subject=x509.Name.from_rfc4514_string(CLIENT_SUBJECT), days=365)
        cert = build_certificate(spec, key, None, now)
        password = secrets.token_urlsafe(24)
        _write(d / "client.key", key_pem(key, None), private=True)
        _write(d / "client.pem", cert.public_bytes(_PEM), private=False)
        _write(d / "client.pfx", entra_pfx(key, cert, (), password.encode(), None), private=True)
        pin = thumbprint_sha256(cert)
        _write(instance / "connector-tls.toml", CONFIG.format(pin=pin).encode(), private=False)
        env = {
            "CONNECTOR_CONFIG": instance / "connector-tls.toml",
            "CONNECTOR_BIND": f"127.0.0.1:{PORT}",
            "CONNECTOR_TLS_CERT": d / "server.pem",
            "CONNECTOR_TLS_KEY": d / "server.key",
            # A self-signed client certificate is its own CA: the file holds it (REFERENCE §2).
            "CONNECTOR_TLS_CLIENT_CA": d / "client.pem",
            "CONNECTOR_TLS_CLIENT_CERT": "required",
        }
        text = "".join(f"{k}={v}\n" for k, v in env.items())
        _write(env_path, text.encode(), private=True)
        # Kept apart from tls.env, which `make run-tls` exports to the server.
        _write(d / "pfx.env", f"CONNECTOR_PFX_PASSWORD={password}\n".encode(), private=True)
        written += [str(d / n) for n in ("client.pem", "client.key", "client.pfx", "pfx.env")]
        written += [str(instance / "connector-tls.toml"), str(env_path)]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", type=Path, default=Path("instance"))
    parser.add_argument("--server-key", choices=("rsa2048", "ec-p256"), default="rsa2048")
    parser.add_argument("--print-usage", action="store_true")
    args = parser.parse_args(argv)
    for name in make(args.instance, args.server_key, datetime.now(UTC)):
        print(f"created {name}")
    if args.print_usage:
        print(USAGE.format(port=PORT, d=args.instance / "tls"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
