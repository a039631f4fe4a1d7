"""What `make bench` prints: a header, the table and its notes."""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import textwrap
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from scripts.bench_consumer import ConsumerFigures
from scripts.bench_size import BuildSizes
from scripts.bench_table import (
    MB,
    MIB,
    Row,
    compare,
    count,
    mebibytes,
    milliseconds,
    render,
    show_ratio,
    size,
    verdict,
)

COLD_START_RATIO = 1.25
FUNCTION_MAX_BYTES = 5 * MB
LAMBDA_MEMORY_BYTES = 128 * MIB
# How the import was timed, its label, and whether the target applies.
COLD_WAYS = (("lambda", "as in Lambda", True), ("cached", "bytecode cached", False))
# Path, target for its Secrets Manager calls, and its exchange calls.
TRIP_TARGETS: tuple[tuple[str, str, Callable[[int], bool], int], ...] = (
    ("skip", "1", lambda calls: calls == 1, 0),
    ("refresh", "<= 2", lambda calls: calls <= 2, 1),
)
BASELINES = (
    "Baselines, from the same run: (1) `import boto3, requests` in the same venv "
    "and the same way, runs interleaved; the ratio is the median of each round's. "
    "(2, 3) The same operations by bare boto3/requests calls (skip: "
    "batch_get_secret_value; refresh: that, the GET exchange and put_secret_value). "
    "(4) A fixed 5-second TTL cache over the same client and clock, written out "
    "here as the minimal equivalent of Powertools' get_secret (default max_age=5). "
    "(5) requests and its dependencies, from the same build. (6) A fresh process "
    "that imports boto3 and requests and does the bare refresh."
)
WIDTH = 88


def header(python_version: str, boto3_version: str, revision: str) -> str:
    moment = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.system()} {platform.machine()}"
    return (
        f"make bench, {moment}, at {revision}\nPython {python_version}, boto3 "
        f"{boto3_version} (.venv-bench); {machine}, nproc {os.process_cpu_count()}\n"
    )


def table(
    results: dict[str, Any], sizes: BuildSizes, cold_runs: int, warm_runs: int
) -> str:
    return render(
        [
            *cold_rows(results["cold"], cold_runs),
            *trip_rows(results["trips"]),
            *warm_rows(results["warm"], warm_runs),
            *consumer_rows(results["consumer"]),
            *size_rows(sizes),
            *memory_rows(results["memory"]),
        ]
    )


def paired_ratio(samples: dict[str, list[float]]) -> float:
    """The median of each round's handler time over its baseline time.

    The pairs ran back to back, so a slow phase of the machine slows both.
    """
    pairs = zip(samples["app"], samples["baseline"], strict=True)
    return statistics.median(app / baseline for app, baseline in pairs)


def cold_row(samples: dict[str, list[float]], figure: str, judged: bool) -> Row:
    app = statistics.median(samples["app"])
    baseline = statistics.median(samples["baseline"])
    times = paired_ratio(samples)
    target = f"<= {COLD_START_RATIO}x" if judged else "-"
    met = times <= COLD_START_RATIO if judged else None
    row = compare(figure, app, baseline, milliseconds, target, met)
    return dataclasses.replace(row, ratio=show_ratio(times))


def cold_rows(samples: dict[str, dict[str, list[float]]], runs: int) -> list[Row]:
    """As in Lambda, which the target is for; then with bytecode cached."""
    return [
        cold_row(samples[way], f"1 import app, {label}, median of {runs}", judged)
        for way, label, judged in COLD_WAYS
    ]


def aws_calls(trips: list[tuple]) -> int:
    """The most Secrets Manager calls any one invocation made."""
    return max(len(operations) for operations, _ in trips)


def exchange_calls(trips: list[tuple]) -> int:
    return max(exchanges for _, exchanges in trips)


def trip_rows(trips: dict[str, list[tuple]]) -> list[Row]:
    rows = []
    for path, aws_target, aws_met, exchanges in TRIP_TARGETS:
        mine, bare = trips[path], trips[f"bare_{path}"]
        calls, made = aws_calls(mine), exchange_calls(mine)
        figure = f"2 {path} path: Secrets Manager calls"
        rows.append(
            compare(figure, calls, aws_calls(bare), count, aws_target, aws_met(calls))
        )
        figure = f"2 {path} path: exchange calls"
        met = made == exchanges
        rows.append(
            compare(figure, made, exchange_calls(bare), count, str(exchanges), met)
        )
    return rows


def warm_rows(samples: dict[str, list[float]], runs: int) -> list[Row]:
    return [
        compare(
            f"3 warm {path} invocation, median of {runs}",
            statistics.median(samples[path]),
            statistics.median(samples[f"bare_{path}"]),
            milliseconds,
        )
        for path in ("skip", "refresh")
    ]


def consumer_rows(figures: dict[str, ConsumerFigures]) -> list[Row]:
    reader, ttl = figures["reader"], figures["ttl"]
    per_token = reader.reads_per_token
    return [
        compare(
            "4 consumer reads: 1,000 requests, 1 lifetime",
            reader.reads,
            ttl.reads,
            count,
        ),
        compare(
            "4 consumer reads per token served",
            per_token,
            ttl.reads_per_token,
            count,
            "1",
            per_token <= 1,
        ),
    ]


def size_rows(sizes: BuildSizes) -> list[Row]:
    function, baseline, layer = sizes.function, sizes.baseline, sizes.layer
    small_enough = function.zipped <= FUNCTION_MAX_BYTES
    packaged = ", ".join(sizes.runtime_packages) or "none"
    return [
        compare(
            "5 function zip",
            function.zipped,
            baseline.zipped,
            size,
            "<= 5 MB",
            small_enough,
        ),
        compare("5 function unzipped", function.unzipped, baseline.unzipped, size),
        compare("5 layer zip", layer.zipped, None, size),
        compare("5 layer unzipped", layer.unzipped, None, size),
        Row(
            "5 boto3/botocore packaged",
            packaged,
            "-",
            "-",
            "none",
            verdict(not sizes.runtime_packages),
        ),
    ]


def memory_rows(samples: dict[str, list[int]]) -> list[Row]:
    mine = statistics.median(samples["invoke"])
    bare = statistics.median(samples["bare"])
    met = mine <= LAMBDA_MEMORY_BYTES
    figure = "6 peak RSS, cold refresh process"
    return [compare(figure, mine, bare, mebibytes, "<= 128 MiB", met)]


def describe_trips(trips: list[tuple]) -> str:
    """The operation sequences seen, with how many invocations made each."""
    seen = Counter(" + ".join(operations) or "none" for operations, _ in trips)
    return ", ".join(f"{ops} ({n} of {len(trips)})" for ops, n in seen.items())


def notes(trips: dict[str, list[tuple]], seconds: float) -> str:
    seen = "; ".join(f"{path}: {describe_trips(trips[path])}" for path in trips)
    paragraphs = [
        BASELINES,
        f"Secrets Manager operations per invocation, on the wire: {seen}.",
        f"make bench took {seconds:.0f} s.",
    ]
    return "\n" + "\n".join(textwrap.fill(text, WIDTH) for text in paragraphs)
