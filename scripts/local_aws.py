"""A local Secrets Manager: moto's server in a child process on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

START_TIMEOUT_SECONDS = 20.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _moto_command() -> list[str]:
    # The console script sits beside this interpreter in a venv.
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server not found: install moto[server] (make venv)")
    return [found]


class MotoServer:
    """moto's server speaking the AWS wire protocol at ``url``."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        command = [*_moto_command(), "-H", "127.0.0.1", "-p", str(self.port)]
        self._process = subprocess.Popen(  # noqa: S603 (our own fixed command)
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto_server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def reset(self) -> None:
        """Forget every secret, as a fresh account would have none."""
        reset_url = f"{self.url}/moto-api/reset"
        request = urllib.request.Request(reset_url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 (loopback)
            pass

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
