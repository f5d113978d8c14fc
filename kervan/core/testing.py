"""Helpers for tests that need what another process would do."""

import email
import email.policy
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection

# Real third-party data the tests read (store webhooks, exports, bounces, CDNOW …): ../shared/data beside the
# project, or where KERVAN_SHARED_DATA says. Never copied into the project.
SHARED_DATA = Path(os.environ.get("KERVAN_SHARED_DATA") or Path(settings.BASE_DIR).parent / "shared" / "data")


def other_session(*, autocommit: bool = True) -> psycopg.Connection:
    """A second PostgreSQL session on the test database, as another process (a worker, a reader) would have."""
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"], port=s["PORT"], user=s["USER"], dbname=s["NAME"], autocommit=autocommit)


class LoopbackSite:
    """A real HTTP server on 127.0.0.1 standing in for a third party's API in tests: it answers GET `path` (with its
    query string) with the (status, body) or (status, body, headers) set in `pages`, 404 otherwise, and records the
    paths asked for (and each request's headers in `asked_headers`). Answers queued in `once[path]` are given first,
    one per request (a 429 before the page, a failure mid-backfill). A POST (a webhook we call) is recorded in
    `posted` as (path, headers, body) and answered from `once[path]` the same way, else 204, after `delay` seconds
    (a slow receiver). Use as a context manager."""

    def __init__(self, pages: dict[str, tuple[Any, ...]] | None = None, *, delay: float = 0.0) -> None:
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.pages = pages or {}
        self.once: dict[str, list[tuple[Any, ...]]] = {}
        self.asked: list[str] = []
        self.asked_headers: list[dict[str, str]] = []
        self.posted: list[tuple[str, dict[str, str], bytes]] = []
        lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                with lock:
                    site.asked.append(self.path)
                    site.asked_headers.append(dict(self.headers))
                    queued = site.once.get(self.path)
                    answer = queued.pop(0) if queued else site.pages.get(self.path, (404, b"not found"))
                status, body, headers = (*answer, {})[:3]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                with lock:
                    site.posted.append((self.path, dict(self.headers), body))
                    queued = site.once.get(self.path)  # a receiver that fails first (500, 429 + Retry-After)
                    answer = queued.pop(0) if queued else (204, b"")
                status, reply, headers = (*answer, {})[:3]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "LoopbackSite":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# A real SMTP server on loopback (aiosmtpd) for the email tests (the `smtp` fixture in kervan/conftest.py): it keeps
# every message it accepted, and can be told to refuse a recipient (5xx, a hard bounce) or to say "try later" (4xx).


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage


@dataclass
class Mailbox:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient → the SMTP reply to give RCPT TO

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


def free_port() -> int:
    """A TCP port free on loopback now (for a server that must be told its port before it listens)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def worker_database_url() -> str:
    """The test database as a worker process started by the test must open it (Django has switched NAME to it)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def page_problems(page: Any) -> list[str]:
    """What goes wrong on a browser page from now on (Playwright): console errors, script errors and failed
    requests — a list the test asserts empty at the end. A request cancelled because the page navigated away (the
    favicon of a page left at once) is no failure."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "requestfailed",
        lambda r: None if r.failure == "net::ERR_ABORTED" else problems.append(f"failed request: {r.url} {r.failure}"),
    )
    return problems
