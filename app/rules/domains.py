"""Email-domain normalisation and a compact set for very large domain lists.

A million-entry deny list kept as a Python ``set`` of strings costs ~113 MB in every
gunicorn worker. ``DomainSet`` keeps only 64-bit hashes in one open-addressing table
(an ``array``: 16 bytes a domain at load factor <= 0.5), so membership is O(1) and
the table is one flat buffer. Hashes are the interpreter's own (seeded per process),
so a table is only ever used by the process that built it. A false positive needs a
64-bit collision: about 1 in 10^13 per lookup for a million entries.
"""

from __future__ import annotations

import array
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import idna

from app.errors import ConfigError, RequestError

_COMMENT = re.compile(r"#[^\n]*")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_CHUNK = 1 << 20
# Entries that need the slow path: trailing dots, leading dots or wildcards. Plain substring
# tests: a regular expression over every megabyte costs more than the hashing.
_SPECIAL = (".\n", ".\r", ". ", ".\t", "\n.", "\n*", " .", " *", "\t.", "\t*", "\r.", "\r*")


def normalise_domain(text: str) -> str:
    """Fold case, drop trailing dots, map IDN to punycode (raises RequestError if invalid)."""
    domain = text.strip().rstrip(".")
    if domain.isascii():
        domain = domain.lower()
    else:
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise RequestError(f"invalid internationalised domain: {exc}") from exc
    if len(domain) > 253 or _DOMAIN.fullmatch(domain) is None:
        raise RequestError("invalid domain")
    return domain


def email_domain(email: str) -> str:
    """The normalised domain of an email address (raises RequestError when there is none)."""
    local, at, domain = email.rpartition("@")
    if not at or not local:
        raise RequestError("email address has no domain")
    known = _SEEN_DOMAINS.get(domain)
    if known is not None:
        return known
    normal = normalise_domain(domain)
    # Sign-ups come from a few thousand domains at most: remember the valid ones, bounded.
    if len(domain) <= _SEEN_KEY_LIMIT:
        if len(_SEEN_DOMAINS) >= _SEEN_DOMAINS_LIMIT:
            _SEEN_DOMAINS.clear()
        _SEEN_DOMAINS[domain] = normal
    return normal


_SEEN_DOMAINS: dict[str, str] = {}
_SEEN_DOMAINS_LIMIT = 4096
_SEEN_KEY_LIMIT = 256


class DomainSet:
    """An immutable set of normalised domains with O(1) membership and suffix matching."""

    __slots__ = ("_count", "_mask", "_table")

    def __init__(self, table: array.array[int], count: int) -> None:
        self._table = table
        self._mask = len(table) - 1
        self._count = count

    @classmethod
    def build(cls, domains: Iterable[str], files: Iterable[str | Path] = ()) -> DomainSet:
        inline = [_hash(normalise_domain(e.lstrip("*").lstrip("."))) for e in domains]
        paths = [Path(p) for p in files]
        # Size the table from an upper bound (lines + inline entries), then stream every
        # file into it: no list of a million hashes ever exists.
        bound = len(inline) + sum(_count_lines(p) for p in paths)
        builder = _Builder(bound)
        builder.add(inline)
        for path in paths:
            for chunk in _read_file_hashes(path):
                builder.add(chunk)
        return cls(builder.table, builder.count)

    @classmethod
    def from_hashes(cls, hashes: Iterable[int]) -> DomainSet:
        items = list(hashes)
        builder = _Builder(len(items))
        builder.add(items)
        return cls(builder.table, builder.count)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, domain: object) -> bool:
        return isinstance(domain, str) and self.match(domain, False) is not None

    def match(self, domain: str, include_subdomains: bool) -> str | None:
        """The listed domain that covers ``domain`` (itself or a parent), or None."""
        if not self._count:
            return None
        # One loop, no helper calls: this runs for every request, once per label.
        table, mask = self._table, self._mask
        start = 0
        while True:
            suffix = domain[start:] if start else domain
            h = hash(suffix) or 1  # _hash(), inlined
            i = h & mask
            while True:
                v = table[i]
                if v == h:
                    return suffix
                if v == 0:
                    break
                i = (i + 1) & mask
            if not include_subdomains:
                return None
            start = domain.find(".", start) + 1
            if start == 0:
                return None


class _Builder:
    """Open addressing with linear probing, load factor at most 1/2."""

    def __init__(self, bound: int) -> None:
        size = 1 << max(4, (2 * bound).bit_length())
        self.table = array.array("q", bytes(8 * size))
        self.count = 0

    def add(self, hashes: Iterable[int]) -> None:
        table = self.table
        mask = len(table) - 1
        count = self.count
        for value in hashes:
            h = value or 1  # 0 marks an empty slot
            i = h & mask
            while True:
                v = table[i]
                if v == 0:
                    table[i] = h
                    count += 1
                    break
                if v == h:
                    break
                i = (i + 1) & mask
        self.count = count


def _count_lines(path: Path) -> int:
    lines = 1
    try:
        with path.open("rb") as f:
            while block := f.read(_CHUNK):
                lines += block.count(b"\n")
    except OSError as exc:
        raise ConfigError(f"cannot read domain list {path}: {exc.strerror}") from exc
    return lines


def _hash(domain: str) -> int:
    # 0 marks an empty slot; hash() never returns -1 for a str.
    return hash(domain) or 1


def _read_file_hashes(path: Path) -> Iterator[Iterable[int]]:
    """Hash every domain of a one-per-line file, chunk by chunk to bound peak memory."""
    try:
        with path.open("rb") as f:
            rest = b""
            while block := f.read(_CHUNK):
                block = rest + block
                cut = block.rfind(b"\n") + 1
                rest, block = block[cut:], block[:cut]
                yield _hash_chunk(block.decode("utf-8"), path)
            if rest:
                yield _hash_chunk(rest.decode("utf-8"), path)
    except OSError as exc:
        raise ConfigError(f"cannot read domain list {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"domain list {path} is not UTF-8 (byte {exc.start})") from exc


def _hash_chunk(text: str, path: Path) -> Iterable[int]:
    if "#" in text:
        text = _COMMENT.sub("", text)
    tokens = text.lower().split()
    plain = not any(p in text for p in _SPECIAL) and not text.startswith((".", "*"))
    if text.isascii() and plain and not text.rstrip().endswith("."):
        return map(hash, tokens)  # lazily: the builder maps a 0 hash to 1
    out = []
    for token in tokens:
        try:
            out.append(_hash(normalise_domain(token.lstrip("*").lstrip("."))))
        except RequestError as exc:
            raise ConfigError(f"domain list {path}: {token[:60]!r}: {exc}") from exc
    return out
