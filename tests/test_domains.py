"""Email-domain normalisation and the compact DomainSet."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ConfigError, RequestError
from app.rules.domains import DomainSet, email_domain, normalise_domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Contoso.COM", "contoso.com"),
        ("contoso.com.", "contoso.com"),
        ("  contoso.com  ", "contoso.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("münchen.de.", "xn--mnchen-3ya.de"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("", "invalid domain"),
        ("a..b", "invalid domain"),
        ("-a.com", "invalid domain"),
        ("a" * 64 + ".com", "invalid domain"),
        ("under_score.com", "invalid domain"),
        ("\u0000.com", "invalid"),
    ],
)
def test_normalise_rejects(raw: str, match: str) -> None:
    with pytest.raises(RequestError, match=match):
        normalise_domain(raw)


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("Ada@Contoso.com", "contoso.com"),
        ('"we@ird"@contoso.com', "contoso.com"),
        ("ada@bücher.example.", "xn--bcher-kva.example"),
    ],
)
def test_email_domain(email: str, domain: str) -> None:
    assert email_domain(email) == domain


@pytest.mark.parametrize("email", ["ada", "@contoso.com", "ada@"])
def test_email_without_domain(email: str) -> None:
    with pytest.raises(RequestError, match=r"no domain|invalid domain"):
        email_domain(email)


def test_subdomain_matching() -> None:
    s = DomainSet.build(["contoso.com", "*.fabrikam.com", "bücher.example"])
    assert s.match("contoso.com", True) == "contoso.com"
    assert s.match("a.b.contoso.com", True) == "contoso.com"
    assert s.match("a.b.contoso.com", False) is None
    assert s.match("notcontoso.com", True) is None
    assert s.match("mail.fabrikam.com", True) == "fabrikam.com"
    assert s.match("shop.xn--bcher-kva.example", True) == "xn--bcher-kva.example"
    assert len(s) == 3
    assert "contoso.com" in s and "other.com" not in s


def test_empty_set() -> None:
    s = DomainSet.build([])
    assert len(s) == 0 and s.match("contoso.com", True) is None


def test_file_loading(tmp_path: Path) -> None:
    f = tmp_path / "deny.txt"
    f.write_text(
        "# disposable mail, one per line\nMailinator.com\n\nguerrillamail.com.\n"
        "  spaced.example  \n*.wild.example\n.dot.example\nbücher.example # inline\n"
        "last.example",
        encoding="utf-8",
    )
    s = DomainSet.build([], [f])
    for d in (
        "mailinator.com",
        "guerrillamail.com",
        "spaced.example",
        "wild.example",
        "dot.example",
        "xn--bcher-kva.example",
        "last.example",
    ):
        assert s.match("x." + d, True) == d, d
    assert s.match("disposable", True) is None  # comment words are not entries
    assert len(s) == 7


def test_crlf_file(tmp_path: Path) -> None:
    f = tmp_path / "deny.txt"
    f.write_bytes(b"a.example\r\nb.example.\r\n")
    s = DomainSet.build([], [f])
    assert s.match("b.example", True) == "b.example" and len(s) == 2


def test_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.rules import domains

    monkeypatch.setattr(domains, "_CHUNK", 7)
    f = tmp_path / "deny.txt"
    names = [f"d{i}.example" for i in range(50)]
    f.write_text("\n".join(names))
    s = DomainSet.build([], [f])
    assert len(s) == 50 and all(n in s for n in names)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\xff\xfe", "not UTF-8"),
        ("bad_domain.com\nä..com\n".encode(), r"invalid"),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes, match: str) -> None:
    f = tmp_path / "deny.txt"
    f.write_bytes(content)
    with pytest.raises(ConfigError, match=match):
        DomainSet.build([], [f])


def test_million_entries(tmp_path: Path) -> None:
    f = tmp_path / "big.txt"
    with f.open("w") as out:
        for i in range(1_000_000):
            out.write(f"d{i}.example\n")
    s = DomainSet.build([], [f])
    assert len(s) == 1_000_000
    assert s.match("mx.d999999.example", True) == "d999999.example"
    assert s.match("d1000000.example", True) is None


def test_email_domain_remembers_valid_domains_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.errors import RequestError
    from app.rules import domains

    monkeypatch.setattr(domains, "_SEEN_DOMAINS", {})
    for _ in range(2):
        assert domains.email_domain("ada@Contoso.COM.") == "contoso.com"
        with pytest.raises(RequestError, match="invalid domain"):
            domains.email_domain("ada@bad_domain!.example")
    assert domains._SEEN_DOMAINS == {"Contoso.COM.": "contoso.com"}


def test_remembered_domains_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.rules import domains

    monkeypatch.setattr(domains, "_SEEN_DOMAINS", {})
    monkeypatch.setattr(domains, "_SEEN_DOMAINS_LIMIT", 10)
    for i in range(25):
        assert domains.email_domain(f"a@d{i}.Example") == f"d{i}.example"
    assert 0 < len(domains._SEEN_DOMAINS) <= 10
    # A long (whitespace-padded) domain is normalised but never kept.
    assert domains.email_domain("a@x.example" + " " * 300) == "x.example"
    assert all(len(k) <= 256 for k in domains._SEEN_DOMAINS)
