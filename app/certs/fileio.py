"""Reading certificate inputs and publishing outputs all-or-nothing (temp file, then os.replace)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from types import TracebackType

from app.errors import ConfigError, ToolError

# Certificate files are kilobytes; a CA bundle a few hundred. A bound keeps a mistyped
# path (a disk image, /dev/zero) from eating memory.
MAX_INPUT_BYTES = 16 * 1024 * 1024


class CertificateFileError(ConfigError):
    """A certificate file is missing, unreadable, damaged or holds no certificate."""


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of `path`, or a CertificateFileError that names the file and the cause."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise CertificateFileError(f"cannot read {os.fspath(path)}: {exc.strerror}") from exc
    if len(data) > MAX_INPUT_BYTES:
        raise CertificateFileError(
            f"{os.fspath(path)} is too large for a certificate file: "
            f"expected at most {MAX_INPUT_BYTES} bytes"
        )
    if not data:
        raise CertificateFileError(f"{os.fspath(path)} is empty")
    return data


class OutputFiles:
    """Stage several files beside their targets and publish them together, or not at all."""

    def __init__(self, *, force: bool) -> None:
        self._force = force
        self._staged: list[tuple[Path, Path]] = []  # (temp, target)
        self._claimed: set[Path] = set()

    def claim(self, target: Path) -> None:
        """Fail early when `target` cannot be written (no directory, or exists without --force)."""
        if not target.parent.is_dir():
            raise ToolError(f"output directory {target.parent} does not exist")
        if target in self._claimed:
            raise ToolError(f"{target} would be written twice: choose another name")
        self._check_target(target)
        self._claimed.add(target)

    def _check_target(self, target: Path) -> None:
        if self._force:
            return
        if target.exists() or target.is_symlink():
            raise ToolError(f"{target} already exists: use --force to overwrite it")

    def stage(self, target: Path, data: bytes, *, private: bool) -> None:
        """Write `data` to a temp file beside `target`; private files are 0600 from creation."""
        if target not in self._claimed:
            self.claim(target)
        temp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        # O_EXCL on a fresh random name: the mode below is the mode the file is born with.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(temp, flags, 0o600 if private else 0o644)
            self._staged.append((temp, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise ToolError(f"cannot write {target}: {exc.strerror}") from exc

    def commit(self) -> list[Path]:
        """Move every staged file into place; re-checks the targets first so none is half-done."""
        for _, target in self._staged:
            self._check_target(target)
        published = []
        for temp, target in self._staged:
            try:
                os.replace(temp, target)
            except OSError as exc:
                raise ToolError(f"cannot write {target}: {exc.strerror}") from exc
            published.append(target)
        self._staged.clear()
        return published

    def discard(self) -> None:
        """Remove staged temp files (on any failure before commit)."""
        for temp, _ in self._staged:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        self._staged.clear()

    def __enter__(self) -> OutputFiles:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()
