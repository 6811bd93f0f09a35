"""Typed, strict reading of one TOML table: every error names the file, the key and the problem."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, TypeVar

from app.errors import ConfigError

T = TypeVar("T")

_TYPE_NAMES = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    list: "an array",
    dict: "a table",
}


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}" if len(value) <= 40 else "a long string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


class Table:
    """A view of one TOML table that type-checks each key and rejects unknown ones."""

    def __init__(
        self, data: Mapping[builtins.str, Any], path: builtins.str, source: builtins.str
    ) -> None:
        self._data = data
        self.path = path
        self.source = source
        self._seen: set[builtins.str] = set()

    def key_path(self, key: builtins.str) -> builtins.str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: builtins.str, problem: builtins.str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.key_path(key)}: {problem}")

    def has(self, key: builtins.str) -> builtins.bool:
        return key in self._data

    def _get(self, key: builtins.str, kind: type[T], default: T | None) -> T | None:
        self._seen.add(key)
        if key not in self._data:
            return default
        value = self._data[key]
        # bool is an int subclass in Python; TOML keeps them apart, so do we.
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, builtins.bool))
        if (
            kind is float
            and isinstance(value, builtins.int)
            and not isinstance(value, builtins.bool)
        ):
            return float(value)  # type: ignore[return-value]
        if not ok:
            raise self.error(
                key, f"expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {_describe(value)}"
            )
        return value  # type: ignore[no-any-return]

    def str(self, key: builtins.str, default: builtins.str = "") -> builtins.str:
        value = self._get(key, builtins.str, default)
        return default if value is None else value

    def opt_str(self, key: builtins.str) -> builtins.str | None:
        return self._get(key, builtins.str, None)

    def choice(
        self, key: builtins.str, choices: tuple[builtins.str, ...], default: builtins.str
    ) -> builtins.str:
        value = self.str(key, default)
        if value not in choices:
            raise self.error(key, f"expected one of {', '.join(map(repr, choices))}, got {value!r}")
        return value

    def bool(self, key: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self._get(key, builtins.bool, default)
        return default if value is None else value

    def int(
        self,
        key: builtins.str,
        default: builtins.int,
        minimum: builtins.int | None = None,
        maximum: builtins.int | None = None,
    ) -> builtins.int:
        got = self._get(key, builtins.int, default)
        value = default if got is None else got
        if minimum is not None and value < minimum:
            raise self.error(key, f"expected at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"expected at most {maximum}, got {value}")
        return value

    def str_list(
        self, key: builtins.str, default: tuple[builtins.str, ...] = ()
    ) -> tuple[builtins.str, ...]:
        value = self._get(key, list, None)
        if value is None:
            return default
        for i, item in enumerate(value):
            if not isinstance(item, builtins.str):
                raise self.error(f"{key}[{i}]", f"expected a string, got {_describe(item)}")
        return tuple(value)

    def table(self, key: builtins.str) -> Table:
        value = self._get(key, dict, {})
        return Table(value or {}, self.key_path(key), self.source)

    def table_list(self, key: builtins.str) -> list[Table]:
        value = self._get(key, list, None)
        if value is None:
            return []
        tables = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{i}]", f"expected a table, got {_describe(item)}")
            tables.append(Table(item, f"{self.key_path(key)}[{i}]", self.source))
        return tables

    def raw(self, key: builtins.str) -> object:
        """The value as TOML gave it, for keys with several accepted shapes."""
        self._seen.add(key)
        return self._data.get(key)

    def keys(self) -> list[builtins.str]:
        return list(self._data)

    def done(self) -> None:
        """Reject keys nobody asked for: a typo must not silently disable a rule."""
        unknown = [k for k in self._data if k not in self._seen]
        if unknown:
            raise self.error(
                unknown[0], "unknown key (check the spelling against connector.example.toml)"
            )
