"""A real ASGI server (uvicorn, in a thread of the test process) serving config.asgi: HTTP pages and the live chat's
WebSockets on loopback, sharing the test's database (use it with `transactional_db`: the server's threads open
their own connections, which see only committed rows).

    from kervan.support.tests.asgi_server import asgi_server  # noqa: F401 - the fixture

    def test_something(asgi_server):
        asgi_server.url        # "http://127.0.0.1:<port>"
        asgi_server.ws_url     # "ws://127.0.0.1:<port>"
        asgi_server.call(fn, *args, **kwargs)   # run sync code (an action) inside the server's event loop
        run(scenario())                          # a client coroutine (websockets), in a thread of its own

`call` matters for actions that notify the sockets: the in-memory channel layer belongs to the server's loop, as a
worker's would be on Redis; called from the test's thread, its messages would be queued from the wrong loop.
A fresh channel layer is used per server.
"""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from asgiref.sync import SyncToAsync, sync_to_async

from kervan.core.testing import free_port


class AsgiServer:
    def __init__(self, application: Any = None, host: str = "127.0.0.1") -> None:
        if application is None:
            from config.asgi import application
        self.application = application
        self.host = host
        self.port = free_port()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> "AsgiServer":
        from channels.layers import channel_layers

        channel_layers.backends.pop("default", None)  # a new in-memory layer, bound to this server's loop
        config = uvicorn.Config(
            self.application,
            host=self.host,
            port=self.port,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
            ws_ping_interval=None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True, name="asgi-server")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ASGI test server did not start")
            time.sleep(0.01)
        return self

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        assert self._server is not None
        await self._server.serve()

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run the sync `fn` as the server would (in its loop's sync thread) and return its result."""
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(sync_to_async(fn)(*args, **kwargs), self.loop)
        return future.result(timeout=20)

    def stop(self) -> None:
        from django.db import connections

        if self.loop is not None and self._thread is not None and self._thread.is_alive():
            self.call(connections.close_all)  # the server's own connections (its sync thread's)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        # What the sockets' last handlers (run while the server shut down) left open in the shared sync thread.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
        # The consumers' database calls run on a pool of threads (kervan.support.consumers), each with its own
        # connection that no one here can reach to close: on PostgreSQL end those sessions, or the test database
        # cannot be dropped at the end ("being accessed by other users").
        connection = connections["default"]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture
def asgi_server(transactional_db) -> Iterator[AsgiServer]:
    server = AsgiServer().start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- clients


def session_cookie(user, *, verified: bool = True) -> str:
    """A Cookie header value signing `user` in (their second factor passed unless `verified` is False): for an
    agent's socket, e.g. websockets' connect(url, additional_headers={"Cookie": ..., "Origin": server.url})."""
    from django.conf import settings
    from django.test import Client

    from kervan.accounts.two_factor import SESSION_VERIFIED

    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_VERIFIED] = verified
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def http_json(url: str, payload: Any = None, *, method: str | None = None, headers: dict | None = None):
    """(status, JSON body) of a request to the server, with a JSON body when `payload` is given."""
    import json
    import urllib.error
    import urllib.request

    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


async def next_frame(
    socket: Any, kind: str, *, timeout: float = 5.0, where: Callable[[dict], bool] | None = None, **match: Any
) -> dict:
    """The next frame of type `kind` whose fields equal `match` (and for which `where(frame)` holds) from a
    websockets client, skipping others."""
    import json

    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await socket.recv())
            if frame.get("type") != kind or any(frame.get(k) != v for k, v in match.items()):
                continue
            if where is None or where(frame):
                return frame


def _closing(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    from django.db import connections

    try:
        return fn(*args, **kwargs)
    finally:
        connections.close_all()  # this thread's own: PostgreSQL refuses to drop a test database still in use


async def off_loop(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run sync code that uses the database (an assertion, a task) from a test's coroutine, in a worker thread whose
    connections are closed afterwards."""
    return await asyncio.to_thread(_closing, fn, *args, **kwargs)


def run(coroutine: Any) -> Any:
    """asyncio.run(coroutine) in a thread of its own: the test's thread may already run an event loop (Playwright's
    sync API keeps one for the session's browser)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="test-client") as pool:
        return pool.submit(_closing, asyncio.run, coroutine).result(timeout=120)
