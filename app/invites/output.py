"""Print invitations as a table, JSON or CSV (for mail merges); codes only when just made."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from app.invites.issue import Issued
from app.store.model import InviteRow

FORMATS = ("table", "json", "csv")
# A spreadsheet runs cells starting with these as formulas (CSV injection).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _bound(email: str | None, domain: str | None) -> str:
    return email or (f"@{domain}" if domain else "")


def created_records(issued: Sequence[Issued]) -> list[dict[str, Any]]:
    return [
        {
            "id": i.invite.id,
            "code": i.code,
            "max_uses": i.invite.max_uses,
            "expires_at": _when(i.invite.expires_at),
            "email": i.invite.email,
            "domain": i.invite.domain,
            "claims": dict(i.invite.claims),
            "note": i.invite.note,
        }
        for i in issued
    ]


def listed_records(rows: Sequence[InviteRow], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "state": r.state(now),
            "uses": r.uses,
            "max_uses": r.max_uses,
            "created_at": _when(r.created_at),
            "expires_at": _when(r.expires_at),
            "revoked_at": _when(r.revoked_at),
            "email": r.email,
            "domain": r.domain,
            "claims": dict(r.claims),
            "note": r.note,
        }
        for r in rows
    ]


def render(records: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(records, indent=2, ensure_ascii=False)
    if fmt == "csv":
        return _csv(records)
    return _table(records)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else ""
    return str(value)


def _csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if records:
        writer.writerow(records[0].keys())
    for record in records:
        cells = [_cell(v) for v in record.values()]
        writer.writerow(["'" + c if c.startswith(_FORMULA) else c for c in cells])
    return out.getvalue().rstrip("\n")


def _table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "no invitations"
    rows = []
    for r in records:
        row = {k: _cell(v) for k, v in r.items() if k not in ("email", "domain", "revoked_at")}
        if "uses" in row:
            row["uses"] = f"{row['uses']}/{row.pop('max_uses')}"
        row["bound_to"] = _bound(r["email"], r["domain"])
        rows.append(row)
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(row[h]) for row in rows)) for h in headers}
    lines = ["  ".join(h.upper().replace("_", " ").ljust(widths[h]) for h in headers)]
    lines += ["  ".join(row[h].ljust(widths[h]) for h in headers) for row in rows]
    return "\n".join(line.rstrip() for line in lines)
