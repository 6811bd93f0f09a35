"""`certs convert IN.pfx OUT.pfx`: re-encrypt a .pfx as Entra accepts it, keeping key and chain."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from app.certs.fileio import OutputFiles, read_file
from app.certs.password import read_password
from app.certs.pfx import check_entra_pfx, entra_pfx, load_pfx
from app.certs.pfx_encryption import analyse_pfx

# Re-encrypting key material:
# (1) the output path is claimed before the password is asked for;
# (2) the password comes from an environment variable or a prompt and protects the output too;
# (3) the output is 0600 from the moment it exists and appears only when complete;
# (4) the new bytes are checked (encryption and a round trip) before they are published.


def convert(
    source: Path,
    target: Path,
    environ: Mapping[str, str],
    password_env: str,
    *,
    force: bool,
    out: TextIO,
) -> int:
    """Write `target` with the key, certificate and chain of `source` under 3DES and SHA-1."""
    with OutputFiles(force=force) as files:
        files.claim(target)  # (1)
        data = read_file(source)
        before = analyse_pfx(data, str(source))
        password = read_password(password_env, environ, prompt=f"Password for {source}")  # (2)
        contents = load_pfx(data, password, str(source))
        pfx = entra_pfx(
            contents.key, contents.cert, contents.chain, password, contents.friendly_name
        )
        check_entra_pfx(pfx, password, target)  # (4)
        files.stage(target, pfx, private=True)  # (3)
        files.commit()
    print(f"{source}: {before.verdict(has_key=True)}", file=out)
    print(
        f"wrote {target} (key, certificate and {len(contents.chain)} chain certificate(s); "
        "3DES (PBES1) with a SHA-1 MAC, same password, mode 0600): Entra will accept this file",
        file=out,
    )
    return 0
