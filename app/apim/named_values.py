"""Named values: which the bundle references, what each holds, and its Key Vault secret."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.config.reader import Table

if TYPE_CHECKING:
    from app.apim.settings import Backend

# APIM allows letters, digits, '.', '-', '_'; no "--" and no edge '-' so that a name can sit
# inside the bundle's XML comments.
_NAMED_VALUE = re.compile(r"^[A-Za-z0-9._]+(?:-[A-Za-z0-9._]+)*$")
_KEY_VAULT_SECRET = re.compile(r"^[A-Za-z0-9-]{1,127}$")


@dataclass(frozen=True)
class NamedValue:
    """One entry of named-values.json: created by the Bicep templates, secrets from Key Vault."""

    name: str
    secret: bool
    description: str
    key_vault_secret_name: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "secret": self.secret,
            "description": self.description,
            "keyVaultSecretName": self.key_vault_secret_name,
        }


def check_named_value(table: Table, key: str, name: str) -> None:
    """Refuse a missing name, or one APIM or an XML comment could not hold."""
    if not name:
        raise table.error(key, "missing: expected the name of an APIM named value")
    if len(name) > 256 or not _NAMED_VALUE.match(name):
        raise table.error(
            key,
            f"expected a named value name of letters, digits, '.', '_' and "
            f"single '-' (no '--', no leading or trailing '-'), got {name!r}",
        )


def key_vault_secrets(t: Table) -> dict[str, str]:
    """`[apim.key_vault_secrets]`: named value -> Key Vault secret name, where they differ."""
    mapping = {}
    names = t.keys()  # a Table, not a dict: keys() is its listing
    for name in names:
        secret = t.str(name)
        if not _KEY_VAULT_SECRET.match(secret):
            raise t.error(
                name,
                f"expected a Key Vault secret name (letters, digits, '-', at "
                f"most 127), got {secret!r}",
            )
        mapping[name] = secret
    t.done()
    return mapping


def named_values(
    basic_values: tuple[str, ...], backend: Backend, secret_names: dict[str, str], table: Table
) -> tuple[NamedValue, ...]:
    """Every named value the rendered policy references, in the order it references them."""
    entries: list[tuple[str, str, bool, str]] = []  # (config key, name, secret, description)
    for i, name in enumerate(basic_values):
        entries.append(
            (
                f"gateway_basic_named_values[{i}]",
                name,
                True,
                "Credential callers present at the gateway: base64 of "
                "'username:password', the text after 'Basic ' in their Authorization "
                "header (list two during a rotation)",
            )
        )
    if backend.auth == "basic" and backend.username_named_value and backend.password_named_value:
        entries.append(
            (
                "backend.username_named_value",
                backend.username_named_value,
                False,
                "Username the gateway sends to the app (authentication-basic); one of "
                "the app's [[auth.basic.credentials]] usernames",
            )
        )
        entries.append(
            (
                "backend.password_named_value",
                backend.password_named_value,
                True,
                "Password the gateway sends to the app (authentication-basic); the "
                "secret behind that credential's password_env",
            )
        )
    seen: dict[str, str] = {}
    named = []
    for key, name, secret, description in entries:
        if name in seen:
            raise table.error(key, f"named value {name!r} is already used by {seen[name]}")
        seen[name] = key
        vault_name = None
        if secret:
            vault_name = secret_names.get(name, name)
            if not _KEY_VAULT_SECRET.match(vault_name):
                raise table.error(
                    key,
                    f"{name!r} is not a valid Key Vault secret name; map it "
                    f"in apim.key_vault_secrets",
                )
        named.append(NamedValue(name, secret, description, vault_name))
    for name in secret_names:
        if name not in {n.name for n in named if n.secret}:
            raise table.error(
                f"key_vault_secrets.{name}", "not a secret named value this bundle references"
            )
    return tuple(named)
