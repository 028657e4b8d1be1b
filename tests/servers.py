"""Threads that serve the sandbox over real HTTP during tests (its own port, so its own origin)."""

from __future__ import annotations

import threading
from typing import Any

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connections


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


class ServerThread(threading.Thread):
    """Serves a WSGI app on 127.0.0.1:<free port> until stopped."""

    def __init__(self, app: Any) -> None:
        super().__init__(daemon=True)
        self.app = app
        self.ready = threading.Event()
        self.httpd: ThreadedWSGIServer | None = None

    def run(self) -> None:
        self.httpd = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
        self.httpd.set_app(self.app)
        self.ready.set()
        try:
            self.httpd.serve_forever(poll_interval=0.05)
        finally:
            connections.close_all()

    @property
    def url(self) -> str:
        assert self.httpd is not None
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start_and_wait(self) -> ServerThread:
        self.start()
        self.ready.wait(10)
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
