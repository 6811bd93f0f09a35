"""`[apim]` parsing: defaults, tier rules, and one-line errors that name the key."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from app.apim.settings import ApimSettings, parse_apim
from app.config.model import CertificateAuthConfig
from app.config.reader import Table
from app.errors import ConfigError

PIN = "a" * 40
CERT = CertificateAuthConfig(thumbprints=(PIN,))
BASE: dict[str, Any] = {
    "tier": "standard",
    "backend": {
        "url": "https://connector.azurewebsites.net/",
        "auth": "certificate",
        "certificate_id": "connector-client",
    },
}


def parse(data: dict[str, Any], cert: CertificateAuthConfig = CERT) -> ApimSettings:
    return parse_apim(Table(data, "apim", "test.toml"), cert)


def with_(**changes: Any) -> dict[str, Any]:
    """BASE with top-level keys replaced; a value None removes the key."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def backend(**changes: Any) -> dict[str, Any]:
    """BASE's backend table with keys replaced; a value None removes the key."""
    merged = {**BASE["backend"], **changes}
    return {k: v for k, v in merged.items() if v is not None}


BASIC_BACKEND = backend(
    auth="basic", username_named_value="be-user", password_named_value="be-password"
)


def test_defaults_for_a_classic_tier() -> None:
    s = parse(BASE)
    assert s.gateway_auth == ("certificate",)
    assert s.rate_limit.enabled and s.rate_limit.renewal_period == 60
    assert s.max_body_bytes == 65536
    assert not s.certificate_checks.validate_trust
    assert s.certificate_checks.validate_not_after
    assert s.backend.url == "https://connector.azurewebsites.net"
    assert s.named_values == ()


def test_rate_limit_defaults_off_on_consumption() -> None:
    assert not parse(with_(tier="consumption")).rate_limit.enabled


def test_basic_everywhere_lists_its_named_values() -> None:
    s = parse(
        with_(
            gateway_auth=["certificate", "basic"],
            gateway_basic_named_values=["entra-basic", "entra-basic-next"],
            backend=BASIC_BACKEND,
            key_vault_secrets={"be-password": "connector-basic-password"},
        )
    )
    assert [(n.name, n.secret, n.key_vault_secret_name) for n in s.named_values] == [
        ("entra-basic", True, "entra-basic"),
        ("entra-basic-next", True, "entra-basic-next"),
        ("be-user", False, None),
        ("be-password", True, "connector-basic-password"),
    ]


def test_allowed_ips_are_normalised() -> None:
    s = parse(with_(allowed_ips=["203.0.113.7/24", "198.51.100.1"]))
    assert s.allowed_ips == ("203.0.113.0/24", "198.51.100.1/32")


TEN_MORE = CertificateAuthConfig(thumbprints=tuple(f"{i:040x}" for i in range(11)))
PRIVATE_CA = CertificateAuthConfig(ca_bundle="ca.pem", subjects=("CN=entra",))


@pytest.mark.parametrize(
    ("data", "cert", "message"),
    [
        # more than 10 identities: suggest issuer-based ones
        (BASE, TEN_MORE, r"auth\.certificate: 11 certificate identities.*issuers"),
        # tier
        (with_(tier=None), CERT, r"apim\.tier: missing"),
        (with_(tier="gold"), CERT, r"apim\.tier: expected one of .*got 'gold'"),
        # flags the tier cannot honour
        (
            with_(tier="consumption", rate_limit={"enabled": True}),
            CERT,
            r"apim\.rate_limit\.enabled: tier 'consumption' has no rate-limit-by-key",
        ),
        (
            with_(tier="consumption", client_certificate={"validate_trust": True}),
            PRIVATE_CA,
            r"apim\.client_certificate\.validate_trust: tier 'consumption' cannot hold CA",
        ),
        (
            with_(tier="standardv2", client_certificate={"validate_trust": True}),
            PRIVATE_CA,
            r"apim\.client_certificate\.validate_trust: tier 'standardv2' cannot hold CA",
        ),
        (BASE, PRIVATE_CA, r"apim\.client_certificate\.validate_trust: false, but .*subjects"),
        # missing named values and entity ids
        (with_(gateway_auth=["basic"]), CERT, r"apim\.gateway_basic_named_values: missing"),
        (
            with_(backend=backend(auth="basic", username_named_value="u")),
            CERT,
            r"apim\.backend\.password_named_value: missing",
        ),
        (
            with_(backend=backend(auth="basic", password_named_value="p")),
            CERT,
            r"apim\.backend\.username_named_value: missing",
        ),
        (
            with_(backend=backend(certificate_id=None)),
            CERT,
            r"apim\.backend\.certificate_id: missing",
        ),
        (with_(backend={"url": "https://x.example"}), CERT, r"apim\.backend\.auth: missing"),
        (
            with_(
                backend=backend(auth="basic", username_named_value="u", password_named_value="a--b")
            ),
            CERT,
            r"apim\.backend\.password_named_value: .*no '--'",
        ),
        (
            with_(
                gateway_auth=["basic"],
                gateway_basic_named_values=["same"],
                backend=backend(
                    auth="basic", username_named_value="u", password_named_value="same"
                ),
            ),
            CERT,
            r"apim\.backend\.password_named_value: named value 'same' is already used",
        ),
        (
            with_(backend=BASIC_BACKEND, key_vault_secrets={"be-user": "x"}),
            CERT,
            r"apim\.key_vault_secrets\.be-user: not a secret named value",
        ),
        (
            with_(
                backend=backend(
                    auth="basic", username_named_value="u", password_named_value="be.password"
                )
            ),
            CERT,
            r"apim\.backend\.password_named_value: 'be\.password' is not a valid Key Vault",
        ),
        # shapes and limits
        (with_(gateway_auth=[]), CERT, r"apim\.gateway_auth: expected 'certificate' and/or"),
        (with_(gateway_auth=["tls"]), CERT, r"apim\.gateway_auth\[0\]: expected"),
        (with_(max_body_bytes=200_000), CERT, r"apim\.max_body_bytes: expected at most 102400"),
        (
            with_(rate_limit={"renewal_period": 301}),
            CERT,
            r"apim\.rate_limit\.renewal_period: expected at most 300",
        ),
        (with_(allowed_ips=["2001:db8::/32"]), CERT, r"apim\.allowed_ips\[0\]: expected IPv4"),
        (with_(backend=backend(url="http://x.example")), CERT, r"apim\.backend\.url: .*https"),
        (with_(colour="blue"), CERT, r"apim\.colour: unknown key"),
        (with_(rate_limit={"enable": True}), CERT, r"apim\.rate_limit\.enable: unknown key"),
        (BASE, CertificateAuthConfig(), r"apim\.gateway_auth: 'certificate' needs at least one"),
    ],
)
def test_bad_configuration_names_the_key(
    data: dict[str, Any], cert: CertificateAuthConfig, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse(data, cert)
    text = str(info.value)
    assert text.startswith("test.toml: ")
    assert "\n" not in text


def test_the_documented_apim_table_parses() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "apim.md").read_text("utf-8")
    (block,) = re.findall(r"```toml\n(\[apim\]\n.*?)```", docs, flags=re.DOTALL)
    s = parse(tomllib.loads(block)["apim"])
    assert (s.tier, s.gateway_auth, s.backend.certificate_id) == (
        "standard",
        ("certificate",),
        "connector-backend-client",
    )
    assert s.rate_limit.enabled and s.named_values == ()
