"""An HTTP server on loopback, in a daemon thread, that starts fast and stops clean.

The base of the Matrix42 stand-in and of the tests' AWS fault proxy.
"""

from __future__ import annotations

import logging
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

_LOG = logging.getLogger(__name__)


class QuietServer(ThreadingHTTPServer):
    """Binds without a DNS lookup; its handlers reach their service as ``owner``."""

    daemon_threads = True
    request_queue_size = 128  # the default 5 drops bursts of connects for ~1 s

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        owner: Any,
    ) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def server_bind(self) -> None:
        """Bind; skip HTTPServer's socket.getfqdn, which can take seconds."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up; name other failures without their details."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | TimeoutError):
            _LOG.warning("%s handler failed: %s", type(self.owner).__name__, error)


class LoopbackService:
    """Start, stop and address a QuietServer; subclasses set ``handler``."""

    handler: ClassVar[type[BaseHTTPRequestHandler]]

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        # Set while stopping, so that requests held on purpose end at once.
        self._stopping = threading.Event()
        self._server: QuietServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind and serve from a daemon thread; return self."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._stopping.clear()
        self._server = QuietServer((self._host, self._port), self.handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake held requests and release the port."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start()")
        return f"http://{self._host}:{self._server.server_port}"
