"""pytest plugin: how many cases each fuzz property generated, printed at the end of the run."""

from __future__ import annotations

from typing import Any

from tests.fuzzing import COUNTS, SCALE


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not COUNTS:
        return
    terminalreporter.write_sep("-", "generated cases (hypothesis, schemathesis)")
    for name, n in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{n:7d}  {name}")
    terminalreporter.write_line(
        f"{sum(COUNTS.values()):7d}  in total over {len(COUNTS)} properties"
        f" (CONNECTOR_FUZZ_SCALE={SCALE:g})"
    )
