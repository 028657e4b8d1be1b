"""A tiny static origin for widget tests: static/ files, generated PDFs and test pages.

Served over real HTTP by a `ServerThread`, with Paraf's own Content-Security-Policy on every
page, so the widgets are tested under the same CSP as in production (no inline script, no eval).
No database and no Paraf URL is involved.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.servers import ServerThread

# A page function gets the query and returns its HTML, or (HTML, CSP) to send another policy
# ("" = none, e.g. for a stand-in for Peruri's frameable web view).
Page = Callable[[dict[str, list[str]]], "str | tuple[str, str]"]


class WidgetSite:
    """WSGI app: /static/<path> through Django's finders, /pdf/<name>, /page/<name>?query."""

    def __init__(self) -> None:
        self.pdfs: dict[str, bytes] = {}
        self.pages: dict[str, Page] = {}
        self.posts: list[dict[str, Any]] = []
        self.replies: dict[str, tuple[int, bytes]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        from django.contrib.staticfiles import finders

        from config.middleware import content_security_policy

        path = environ["PATH_INFO"]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        policy = content_security_policy()
        if path.startswith("/static/"):
            found = finders.find(path.removeprefix("/static/"))
            if found and Path(found).is_file():
                kind = mimetypes.guess_type(found)[0] or "application/octet-stream"
                start_response("200 OK", [("Content-Type", kind)])
                return [Path(found).read_bytes()]
        elif path.startswith("/pdf/") and path.removeprefix("/pdf/") in self.pdfs:
            start_response("200 OK", [("Content-Type", "application/pdf")])
            return [self.pdfs[path.removeprefix("/pdf/")]]
        elif path.startswith("/page/") and path.removeprefix("/page/") in self.pages:
            page = self.pages[path.removeprefix("/page/")](query)
            html, policy = page if isinstance(page, tuple) else (page, policy)
            headers = [("Content-Type", "text/html; charset=utf-8")]
            if policy:
                headers.append(("Content-Security-Policy", policy))
            start_response("200 OK", headers)
            return [html.encode()]
        elif path.startswith("/post/") and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            self.posts.append({
                "path": path,
                "csrf": environ.get("HTTP_X_CSRFTOKEN", ""),
                "content_type": environ.get("CONTENT_TYPE", ""),
                "body": body,
            })
            status, reply = self.replies.get(path, (200, b'{"status": "ok"}'))
            start_response(f"{status} X", [("Content-Type", "application/json")])
            return [reply]
        if path == "/favicon.ico":
            start_response("204 No Content", [])
            return []
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]


@pytest.fixture(scope="session")
def _widget_server() -> Iterator[tuple[ServerThread, WidgetSite]]:
    site = WidgetSite()
    server = ServerThread(site).start_and_wait()
    yield server, site
    server.stop()


@pytest.fixture
def widget_site(_widget_server: tuple[ServerThread, WidgetSite]) -> Iterator[tuple[str, WidgetSite]]:
    server, site = _widget_server
    yield server.url, site
    site.pdfs.clear()
    site.pages.clear()
    site.posts.clear()
    site.replies.clear()


@pytest.fixture
def console_errors(page: Any) -> list[str]:
    """Console errors of the page (a CSP violation shows up here as 'Refused to ...')."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors
