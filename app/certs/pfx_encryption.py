"""How a .pfx is encrypted, read without the password (asn1crypto), and whether Entra takes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import pkcs12 as asn1_pkcs12

from app.errors import ToolError

_TRIPLE_DES = "pkcs12_sha1_tripledes_3key"
_PBES1_NAMES = {
    _TRIPLE_DES: "pbeWithSHA1And3-KeyTripleDES-CBC",
    "pkcs12_sha1_tripledes_2key": "pbeWithSHA1And2-KeyTripleDES-CBC",
    "pkcs12_sha1_rc2_40": "pbeWithSHA1And40BitRC2-CBC",
    "pkcs12_sha1_rc2_128": "pbeWithSHA1And128BitRC2-CBC",
    "pkcs12_sha1_rc4_40": "pbeWithSHA1And40BitRC4",
    "pkcs12_sha1_rc4_128": "pbeWithSHA1And128BitRC4",
}
# Windows reads RC2 certificate safes (OpenSSL's -legacy and Windows' own older exports
# write them); the key itself must be under 3DES, the algorithm Entra's docs name.
_CERT_ALGORITHMS = {_TRIPLE_DES, "pkcs12_sha1_rc2_40", "pkcs12_sha1_rc2_128"}
_KEY_ALGORITHMS = {_TRIPLE_DES}
_HASH_NAMES = {
    "sha1": "SHA-1",
    "sha224": "SHA-224",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
    "md5": "MD5",
}


@dataclass(frozen=True)
class BagEncryption:
    """One safe or key bag: what it holds and how it is encrypted."""

    holds: str  # "certificates", "private key", "encrypted safe", ...
    algorithm: str  # OpenSSL's name for PBES1, a summary for PBES2, "none"
    iterations: int | None
    problem: str | None  # why Entra would not take it, None when it would


@dataclass(frozen=True)
class PfxEncryption:
    """Every bag's encryption, the MAC, and the verdict on Entra's terms."""

    bags: tuple[BagEncryption, ...]
    mac: str | None  # "SHA-1", or None when the file has no MAC
    mac_iterations: int | None

    def problems(self, *, has_key: bool | None = None) -> tuple[str, ...]:
        """Reasons Entra rejects the file, each once; `has_key` from opening it, if known."""
        found: list[str] = [bag.problem for bag in self.bags if bag.problem]
        if self.mac is None:
            found.append("no MAC")
        elif self.mac != "SHA-1":
            found.append(f"{self.mac} MAC")
        if has_key is False:
            found.append("no private key")
        return tuple(dict.fromkeys(found))

    def verdict(self, *, has_key: bool | None = None) -> str:
        """One plain sentence: accept, or reject with the reasons and the fix."""
        problems = self.problems(has_key=has_key)
        if not problems:
            return "Entra will accept this file"
        fix = (
            "export the certificate with its private key"
            if "no private key" in problems
            else "run certs convert"
        )
        return f"Entra will reject this file: {', '.join(problems)}; {fix}"


def analyse_pfx(data: bytes, where: str) -> PfxEncryption:
    """Read the encryption parameters; a ToolError when `data` is not a PKCS#12 structure."""
    try:
        pfx = asn1_pkcs12.Pfx.load(data, strict=True)
        bags: list[BagEncryption] = []
        for info in pfx.authenticated_safe:
            kind = info["content_type"].native
            if kind == "data":
                bags.extend(_plain_safe(info["content"].native))
            elif kind == "encrypted_data":
                algo = info["content"]["encrypted_content_info"]["content_encryption_algorithm"]
                bags.append(_encrypted("encrypted safe (certificates)", algo, _CERT_ALGORITHMS))
            else:
                bags.append(BagEncryption(f"{kind} safe", kind, None, f"{kind} safe"))
        mac, mac_iterations = _mac(pfx["mac_data"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # asn1crypto parses lazily: damage may surface at any field access above.
        raise ToolError(f"{where} is not a PKCS#12 file (or it is truncated)") from exc
    return PfxEncryption(tuple(bags), mac, mac_iterations)


def _plain_safe(contents: bytes) -> list[BagEncryption]:
    safe = asn1_pkcs12.SafeContents.load(contents)
    bags: list[BagEncryption] = []
    certs = 0
    for bag in safe:
        bag_id = bag["bag_id"].native
        if bag_id == "pkcs8_shrouded_key_bag":
            algo = bag["bag_value"]["encryption_algorithm"]
            bags.append(_encrypted("private key", algo, _KEY_ALGORITHMS))
        elif bag_id == "key_bag":
            bags.append(BagEncryption("private key", "none", None, "unencrypted private key"))
        elif bag_id == "cert_bag":
            certs += 1
    if certs:
        bags.insert(0, BagEncryption(f"certificates ({certs}, not encrypted)", "none", None, None))
    return bags


def _encrypted(holds: str, algo: Any, accepted: set[str]) -> BagEncryption:
    name = algo["algorithm"].native
    iterations = _iterations(algo)
    if name == "pbes2":
        label, cipher = _pbes2(algo)
        return BagEncryption(holds, label, iterations, f"{cipher} (PBES2)")
    pretty = _PBES1_NAMES.get(name, name)
    problem = None if name in accepted else pretty
    return BagEncryption(holds, pretty, iterations, problem)


def _pbes2(algo: Any) -> tuple[str, str]:
    """('PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC', 'AES-256') in OpenSSL's words."""
    try:
        cipher_name = algo.encryption_cipher.upper()
        bits = algo.key_length * 8
        cipher = f"{cipher_name}-{bits}" if cipher_name == "AES" else cipher_name
        kdf = algo.kdf.upper()
        prf = f"-HMAC-{algo.kdf_hmac.upper()}" if algo.kdf == "pbkdf2" else ""
    except (ValueError, KeyError):
        return "PBES2 (unrecognised parameters)", "unrecognised cipher"
    return f"PBES2, {kdf}{prf}, {cipher}-CBC", cipher


def _iterations(algo: Any) -> int | None:
    try:
        count = algo.kdf_iterations
    except (ValueError, KeyError):
        return None
    return int(count) if count is not None else None


def _mac(mac_data: Any) -> tuple[str | None, int | None]:
    if mac_data.native is None:
        return None, None
    name = mac_data["mac"]["digest_algorithm"]["algorithm"].native
    return _HASH_NAMES.get(name, name), int(mac_data["iterations"].native)
