"""The table `make bench` prints: each figure, its baseline, the ratio, the target."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

MB = 1_000_000
MIB = 1024 * 1024
HEADINGS = ("figure", "project", "baseline", "ratio", "target", "verdict")


@dataclasses.dataclass(frozen=True)
class Row:
    figure: str
    project: str
    baseline: str
    ratio: str
    target: str = "-"
    verdict: str = ""

    def cells(self) -> tuple[str, ...]:
        return dataclasses.astuple(self)


def compare(
    figure: str,
    project: float,
    baseline: float | None,
    show: Callable[[float], str],
    target: str = "-",
    met: bool | None = None,
) -> Row:
    """A row of two figures in one unit; ``met`` None means no target."""
    return Row(
        figure,
        show(project),
        "-" if baseline is None else show(baseline),
        ratio(project, baseline),
        target,
        verdict(met),
    )


def ratio(project: float, baseline: float | None) -> str:
    return show_ratio(project / baseline) if baseline else "-"


def show_ratio(value: float) -> str:
    # Three decimals: a ratio judged against 1.25 must not print as 1.25 and miss.
    return f"{value:.3f}" if value >= 0.01 else f"{value:.4f}"


def verdict(met: bool | None) -> str:
    if met is None:
        return ""
    return "met" if met else "MISSED"


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def size(nbytes: float) -> str:
    """Decimal megabytes, or kilobytes below a tenth of a megabyte."""
    if nbytes < MB / 10:
        return f"{nbytes / 1000:.1f} kB"
    return f"{nbytes / MB:.2f} MB"


def mebibytes(size: float) -> str:
    return f"{size / MIB:.1f} MiB"


def count(value: float) -> str:
    return f"{value:g}"


def render(rows: Sequence[Row]) -> str:
    """Rows under a heading, columns padded; numbers right-aligned."""
    table = [HEADINGS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADINGS))]
    lines = [_line(cells, widths) for cells in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    first, *numbers, target, mark = cells
    padded = [first.ljust(widths[0])]
    padded += [
        cell.rjust(width) for cell, width in zip(numbers, widths[1:4], strict=True)
    ]
    return "  ".join([*padded, target.ljust(widths[4]), mark])
