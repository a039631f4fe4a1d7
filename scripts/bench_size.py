"""Artifacts for `make bench`: `sam build` into a temporary folder, and their sizes.

Sizes are of the files as built (unzipped) and of a zip of them made as `sam
package` makes it (deflate). The baseline is the part of the same build that a
function of bare boto3/requests calls would ship: requests and its dependencies.
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "template.yaml"
FUNCTION = "TokenRefreshFunction"
LAYER = "TokenClientLayer"
# The Lambda runtime provides these; none of them may be packaged.
RUNTIME_PACKAGES = frozenset({"boto3", "botocore", "s3transfer"})
BASELINE_PACKAGES = frozenset(
    {"requests", "urllib3", "idna", "certifi", "charset_normalizer"}
)
BUILD_TIMEOUT_SECONDS = 600


@dataclasses.dataclass(frozen=True)
class Size:
    unzipped: int
    zipped: int


@dataclasses.dataclass(frozen=True)
class BuildSizes:
    function: Size
    baseline: Size
    layer: Size
    runtime_packages: tuple[str, ...]


def sam_build(target: Path) -> None:
    """Build both artifacts into ``target``; sam needs python3.13 on PATH."""
    sam = Path(sys.executable).with_name("sam")
    command = [str(sam), "build", "--template-file", str(TEMPLATE)]
    run = subprocess.run(  # noqa: S603 (our own fixed command)
        [*command, "--build-dir", str(target)],
        cwd=REPO_ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"sam build failed:\n{run.stdout}\n{run.stderr}")


def package_name(relative: Path) -> str:
    """The distribution a built file belongs to, by its top folder or module."""
    top = relative.parts[0]
    return top.split("-")[0].removesuffix(".py")


def measure_tree(root: Path, keep: Callable[[Path], bool] = lambda _: True) -> Size:
    """Bytes of the files under ``root`` that ``keep`` accepts, as is and zipped."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    kept = [p for p in files if keep(p.relative_to(root))]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in kept:
            archive.write(path, path.relative_to(root))
    return Size(sum(p.stat().st_size for p in kept), len(buffer.getvalue()))


def runtime_packages_in(*roots: Path) -> tuple[str, ...]:
    """Runtime-provided packages found anywhere in the built artifacts."""
    found = {
        name
        for root in roots
        for path in root.rglob("*")
        for name in RUNTIME_PACKAGES
        if path.name == name or path.name.startswith(f"{name}-")
    }
    return tuple(sorted(found))


def built_paths(build: Path) -> tuple[Path, Path]:
    """Where Lambda finds the code: the function folder, then the layer's python/."""
    return build / FUNCTION, build / LAYER / "python"


def measure(build: Path) -> BuildSizes:
    """Sizes of what ``sam_build`` put into ``build``."""
    function, layer = build / FUNCTION, build / LAYER
    return BuildSizes(
        function=measure_tree(function),
        baseline=measure_tree(
            function, lambda path: package_name(path) in BASELINE_PACKAGES
        ),
        layer=measure_tree(layer),
        runtime_packages=runtime_packages_in(function, layer),
    )
