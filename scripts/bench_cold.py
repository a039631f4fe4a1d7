"""Cold start for `make bench`: import times in fresh processes of the bench venv.

The handler module against `import boto3, requests`, in rounds that alternate
which goes first: as in Lambda (the build output, no bytecode written), and from
the source folders with their bytecode cached, to show what compiling costs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from scripts import bench_size
from scripts.invoke import FUNCTION_DIR

SOURCE_PATH = (FUNCTION_DIR, FUNCTION_DIR.parents[1] / "layers" / "matrix42_token")
IMPORT_TIMEOUT_SECONDS = 60

# Runs in a fresh `python -I`: the function folder and the layer first on the
# path, as Lambda puts them, then the venv's site-packages (the runtime's).
# -B, as in Lambda, where nothing can write bytecode; without it the second run
# on finds the source folders' bytecode cached.
IMPORT_TIMER = """
import sys, time
sys.path[:0] = sys.argv[1:]
started = time.perf_counter()
import {modules}
print(time.perf_counter() - started)
"""
COLD_SUBJECTS = {"app": "app", "baseline": "boto3, requests"}


def time_import(python: str, modules: str, env: dict, how: tuple) -> float:
    """Seconds to import ``modules``; ``how`` is (interpreter flags, search path)."""
    flags, search_path = how
    code = IMPORT_TIMER.format(modules=modules)
    run = subprocess.run(  # noqa: S603 (the bench venv's python, our own snippet)
        [python, "-I", *flags, "-c", code, *map(str, search_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_SECONDS,
        check=True,
    )
    return float(run.stdout.split()[-1])


def measure_cold_start(
    python: str, runs: int, env: dict, how: tuple
) -> dict[str, list[float]]:
    """Import times in fresh processes, handler and baseline alternating."""
    for modules in COLD_SUBJECTS.values():  # not timed: fills caches, if allowed
        time_import(python, modules, env, how)
    samples: dict[str, list[float]] = {name: [] for name in COLD_SUBJECTS}
    for index in range(runs):
        order = list(COLD_SUBJECTS.items())
        for name, modules in order if index % 2 == 0 else reversed(order):
            samples[name].append(time_import(python, modules, env, how))
    return samples


def measure(python: str, runs: int, env: dict, build: Path) -> dict:
    """As in Lambda (the build, no bytecode), and with bytecode cached (sources)."""
    ways = {
        "lambda": (("-B",), bench_size.built_paths(build)),
        "cached": ((), SOURCE_PATH),
    }
    return {
        name: measure_cold_start(python, runs, env, how) for name, how in ways.items()
    }


def runtime_versions(python: str) -> tuple[str, str]:
    """The bench venv's Python and boto3 versions."""
    code = "import platform, boto3; print(platform.python_version(), boto3.__version__)"
    run = subprocess.run(  # noqa: S603 (the bench venv's python, a fixed snippet)
        [python, "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_SECONDS,
        check=True,
    )
    python_version, boto3_version = run.stdout.split()
    return python_version, boto3_version
