"""Private keys: the supported types, generation, PEM reading and writing, a short description."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from app.errors import ToolError

KEY_TYPES = ("rsa2048", "rsa3072", "ec-p256")
# RSA is what Entra's docs recommend; P-256 is offered for the gateway and tests.
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclass(frozen=True)
class KeyInfo:
    """A key's algorithm and size, e.g. RSA 2048 or EC P-256."""

    algorithm: str
    size: int | None
    curve: str | None = None

    def __str__(self) -> str:
        if self.curve:
            return f"{self.algorithm} {self.curve}"
        # Ed25519 and friends have one size, named by the algorithm itself.
        sized = self.algorithm in ("RSA", "DSA") and self.size
        return f"{self.algorithm} {self.size}" if sized else self.algorithm


def generate_key(kind: str) -> SigningKey:
    """A fresh key of one of KEY_TYPES."""
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if kind == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ToolError(f"unsupported key type {kind!r}: expected one of {', '.join(KEY_TYPES)}")


def describe_key(key: object) -> KeyInfo:
    """Algorithm and size of a public or private key of any type cryptography loads."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return KeyInfo("RSA", key.key_size)
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return KeyInfo("EC", key.curve.key_size, _CURVES.get(key.curve.name, key.curve.name))
    if isinstance(key, dsa.DSAPublicKey | dsa.DSAPrivateKey):
        return KeyInfo("DSA", key.key_size)
    for kinds, name, size in (
        ((ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey), "Ed25519", 256),
        ((ed448.Ed448PublicKey, ed448.Ed448PrivateKey), "Ed448", 456),
        ((x25519.X25519PublicKey, x25519.X25519PrivateKey), "X25519", 256),
        ((x448.X448PublicKey, x448.X448PrivateKey), "X448", 448),
    ):
        if isinstance(key, kinds):
            return KeyInfo(name, size)
    return KeyInfo(type(key).__name__, None)


def check_key_type(key: object, where: str) -> SigningKey:
    """`key` when it is RSA or EC, else a ToolError naming what it is."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key
    raise ToolError(f"{where}: unsupported key type {describe_key(key)}: expected RSA or EC")


def public_bytes(key: PublicKeyTypes) -> bytes:
    """DER SubjectPublicKeyInfo, to compare a key with a certificate."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_pem(key: SigningKey, password: bytes | None) -> bytes:
    """PKCS#8 PEM, encrypted with the password (PBES2/AES-256) when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_private_key(data: bytes, where: str, password: Callable[[], bytes]) -> SigningKey:
    """A PEM private key; `password()` is asked only when the key is encrypted."""
    try:
        key = serialization.load_pem_private_key(data, None)
    except TypeError:
        # cryptography's signal that the key is encrypted and needs the password.
        try:
            key = serialization.load_pem_private_key(data, password())
        except ValueError as exc:
            raise ToolError(f"wrong password for {where} (or the key is damaged)") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ToolError(
            f"{where} is not a PEM private key: expected a '-----BEGIN PRIVATE KEY-----' "
            "or '-----BEGIN ENCRYPTED PRIVATE KEY-----' block"
        ) from exc
    return check_key_type(key, where)
