"""`certs create`: a key and certificate for Entra (self-signed, a private CA, or CA-issued)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.certs.build import (
    CertificateSpec,
    Issuer,
    build_certificate,
    check_days,
    check_issuer,
    common_name,
    file_stem,
    is_dns_name,
    parse_subject,
    san_names,
)
from app.certs.fileio import OutputFiles, read_file
from app.certs.keys import generate_key, key_pem, load_private_key
from app.certs.password import DEFAULT_PASSWORD_ENV, check_env_name, read_password
from app.certs.pfx import check_entra_pfx, entra_pfx
from app.certs.x509util import load_pem_bundle, thumbprint_sha1, thumbprint_sha256
from app.errors import ToolError

# Creating key material:
# (1) every input is checked, and every output path claimed, before a password is asked for
#     or a key generated, so a refusal costs nothing and leaves nothing;
# (2) passwords come from an environment variable or a terminal prompt, never from argv;
# (3) the key and the .pfx are 0600 from the moment they exist (temp files, then os.replace);
# (4) the .pfx uses the encryption Entra accepts, checked on the bytes before they are published;
# (5) nothing secret is printed: thumbprints and paths only.

DEFAULT_DAYS = 365
DEFAULT_CA_DAYS = 1825


@dataclass(frozen=True)
class CreateOptions:
    """The command line of `certs create`, parsed."""

    subject: str
    out_dir: Path
    key_type: str = "rsa2048"
    days: int | None = None
    name: str | None = None
    san: tuple[str, ...] = ()
    no_san: bool = False
    ca: bool = False
    issuer: Path | None = None
    issuer_key: Path | None = None
    password_env: str = DEFAULT_PASSWORD_ENV
    issuer_password_env: str | None = None
    key_password: bool = True
    force: bool = False


def create(options: CreateOptions, environ: Mapping[str, str], now: datetime, out: TextIO) -> int:
    """Make the key and certificate, write NAME.pfx/.pem/.key, print thumbprints and config."""
    # (1) validate everything first
    subject = parse_subject(options.subject)
    cn = common_name(subject) or ""
    spec = CertificateSpec(
        subject=subject,
        days=check_days(_default(options.days, DEFAULT_CA_DAYS if options.ca else DEFAULT_DAYS)),
        san=_san(options, cn),
        ca=options.ca,
    )
    if options.ca and options.issuer:
        raise ToolError("--ca and --issuer exclude each other: make the CA first, then issue")
    if (options.issuer is None) != (options.issuer_key is None):
        raise ToolError("--issuer and --issuer-key go together: give both or neither")
    check_env_name(options.password_env)
    stem = file_stem(options.name or cn)
    paths = {ext: options.out_dir / f"{stem}.{ext}" for ext in ("pfx", "pem", "key")}
    if options.ca:
        del paths["pfx"]  # a CA's key stays in NAME.key; nothing uploads a CA as a .pfx
    with OutputFiles(force=options.force) as files:
        for path in paths.values():
            files.claim(path)
        issuer = _load_issuer(options, environ, now)
        # (2) one password protects the .pfx and the key file
        password = b""
        if not options.ca or options.key_password:
            password = read_password(
                options.password_env,
                environ,
                prompt=f"Password for {stem}.{'key' if options.ca else 'pfx'}",
                new=True,
            )
        key = generate_key(options.key_type)
        cert = build_certificate(spec, key, issuer, now)
        if "pfx" in paths:
            pfx = entra_pfx(key, cert, issuer.chain if issuer else (), password, stem.encode())
            check_entra_pfx(pfx, password, paths["pfx"])  # (4)
            files.stage(paths["pfx"], pfx, private=True)  # (3)
        key_password = password if options.key_password else None
        files.stage(paths["key"], key_pem(key, key_password), private=True)  # (3)
        files.stage(paths["pem"], cert.public_bytes(serialization.Encoding.PEM), private=False)
        written = files.commit()
    created = Created(cert, tuple(written), paths["pem"], issuer, key_password is not None)
    _report(out, options, created)  # (5)
    return 0


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def _san(options: CreateOptions, cn: str) -> tuple[x509.GeneralName, ...]:
    if options.no_san or options.ca:
        if options.san:
            reason = "--no-san" if options.no_san else "--ca"
            raise ToolError(f"--san and {reason} exclude each other")
        return ()
    if options.san:
        return san_names(options.san)
    if not is_dns_name(cn):
        raise ToolError(f"cannot derive a SAN DNS name from CN {cn!r}: give --san NAME or --no-san")
    return san_names([cn])


def _load_issuer(
    options: CreateOptions, environ: Mapping[str, str], now: datetime
) -> Issuer | None:
    if options.issuer is None or options.issuer_key is None:
        return None
    certs = load_pem_bundle(options.issuer)
    env_name = options.issuer_password_env or options.password_env
    key = load_private_key(
        read_file(options.issuer_key),
        str(options.issuer_key),
        lambda: read_password(env_name, environ, prompt=f"Password for {options.issuer_key}"),
    )
    return check_issuer(certs, key, str(options.issuer), now)


@dataclass(frozen=True)
class Created:
    """What `create` made, for the summary."""

    cert: x509.Certificate
    files: tuple[Path, ...]
    pem: Path
    issuer: Issuer | None
    key_encrypted: bool


def _report(out: TextIO, options: CreateOptions, created: Created) -> None:
    cert, pem, key_encrypted = created.cert, created.pem, created.key_encrypted
    for path in created.files:
        what = {
            ".pfx": "PKCS#12 for Entra: 3DES (PBES1) with a SHA-1 MAC, mode 0600",
            ".pem": "certificate",
            ".key": f"private key, {'encrypted' if key_encrypted else 'NOT encrypted'}, mode 0600",
        }[path.suffix]
        print(f"wrote {path} ({what})", file=out)
    subject = cert.subject.rfc4514_string()
    print(f"\nsubject   {subject}", file=out)
    print(
        f"valid     {cert.not_valid_before_utc:%Y-%m-%d %H:%M} to "
        f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        file=out,
    )
    print(f"SHA-1     {thumbprint_sha1(cert)} (the thumbprint the Azure portal shows)", file=out)
    print(f"SHA-256   {thumbprint_sha256(cert)}", file=out)
    if not options.ca and options.key_type != "rsa2048":
        print(
            f"note: {options.key_type} chosen; Entra's documentation recommends RSA 2048", file=out
        )
    print(
        "\nPaste into the configuration (keep the old entries until a rollover is done):\n",
        file=out,
    )
    print("[auth.certificate]", file=out)
    if options.ca:
        print(f"ca_bundle = {json.dumps(str(pem))}", file=out)
        print(
            f"\nIssue client certificates from it with:\n  python -m app certs create "
            f"--subject CN=<api>.<tenant> --issuer {pem} --issuer-key "
            f"{pem.with_suffix('.key')}",
            file=out,
        )
    elif created.issuer:
        print(f"ca_bundle = {json.dumps(str(options.issuer))}", file=out)
        print(f"subjects = [{json.dumps(subject)}]", file=out)
    else:
        until = f"{cert.not_valid_after_utc:%Y-%m-%d}"
        print(
            f"thumbprints = [\n    {json.dumps(thumbprint_sha256(cert).lower())},  "
            f"# {subject}, SHA-256, valid until {until}\n]",
            file=out,
        )
        print(
            f"\nWhen gunicorn terminates TLS, add {pem} to the CONNECTOR_TLS_CLIENT_CA bundle "
            "(a self-signed certificate is its own CA).",
            file=out,
        )
