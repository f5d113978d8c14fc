"""Live chat under load (issue 14's figure: 1,000 concurrent chat connections on one server process; message delivery
median ≤ 50 ms and p99 ≤ 250 ms).

Fills a scratch database with chats: N_VISITORS visitors, each with a conversation already taken by one of
N_AGENTS support agents (chat_start + chat_join, the actions the widget and the console use). Starts ONE granian
process serving config.asgi (Django Channels, the in-memory channel layer: one process needs no Redis), then opens,
from this process (asyncio + the websockets client), one WebSocket per visitor (/ws/chat/visitor/?key=…) and one per
agent (/ws/chat/agent/ with a logged-in session cookie). Every visitor sends MESSAGES messages at random moments
over SPREAD seconds; the agent whose chat it is answers each one at once. Delivery latency is the time from a
client's send to the other side's receive (both clients in this process, one monotonic clock): visitor → agent
and agent → visitor, each message once.

    .venv/bin/python bench/chat_concurrency.py --database-url postgres://postgres@127.0.0.1:5432/kervan_bench_chat
    .venv/bin/python bench/chat_concurrency.py --database-url sqlite:////tmp/kervan-bench-chat.sqlite3
    .venv/bin/python bench/chat_concurrency.py --floor    # the same clients against a minimal websockets relay

Writes bench/results/chat.json; a --floor run first (written to var/) puts the floor beside the figures.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "chat.json"
N_VISITORS = 1000
N_AGENTS = 20
MESSAGES = 3  # per visitor: 3,000 visitor messages and 3,000 answers
SPREAD = 60.0  # seconds over which the visitors' messages are spread (about 50 visitor messages a second)
CONNECT_BATCH = 50
TARGETS = {"median": "<= 50 ms", "p99": "<= 250 ms"}
FLOOR = ROOT / "var" / "bench-chat-floor.json"  # the last floor run, attached to the figures of the next real run


def raise_file_limit(wanted: int = 8192) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        soft = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def group_cpu_seconds(group: int) -> float:
    """CPU time (user + system) used so far by the processes of process group `group` (the server)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# ---------------------------------------------------------------- the scratch database


def prepare_database(database_url: str) -> None:
    if database_url.startswith("postgres"):
        import psycopg

        parsed = urlparse(database_url)
        name = parsed.path.lstrip("/")
        admin = parsed._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                connection.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=900
    )


def fill(n_visitors: int, n_agents: int) -> tuple[list[dict], list[dict]]:
    """Fresh chats and agents; returns (visitors: key, conversation, agent index), (agents: session, user id)."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import transaction

    from kervan.accounts.actors import Actor
    from kervan.accounts.models import User
    from kervan.accounts.two_factor import SESSION_VERIFIED
    from kervan.support.chat_actions import chat_join, chat_start
    from kervan.support.models import AgentPresence, ChatConversation

    ChatConversation.objects.filter(visitor_name__startswith="Bench visitor").delete()
    agents, users = [], []
    for index in range(n_agents):
        user, _created = User.objects.get_or_create(
            username=f"bench-agent-{index}", defaults={"role": "support", "first_name": f"Agent {index}"}
        )
        AgentPresence.objects.update_or_create(user=user, defaults={"status": "online"})
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session[SESSION_VERIFIED] = True
        session.create()
        users.append(user)
        agents.append({"session": session.session_key, "user_id": user.pk, "cookie": settings.SESSION_COOKIE_NAME})
    visitors = []
    with transaction.atomic():
        for index in range(n_visitors):
            conversation = chat_start(name=f"Bench visitor {index}", language="tr", page_url="https://shop.test/")
            agent = index % n_agents
            chat_join(actor=Actor.for_user(users[agent]), conversation=conversation)
            visitors.append({"key": conversation.visitor_key, "conversation": conversation.pk, "agent": agent})
    return visitors, agents


# ---------------------------------------------------------------- servers


def start_granian(port: int, database_url: str, log) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "KERVAN_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    command = [
        str(ROOT / ".venv/bin/granian"),
        "--interface",
        "asgi",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--backlog",
        "2048",
        "config.asgi:application",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    wait_for(f"http://127.0.0.1:{port}/help/", server)
    return server


def start_floor(port: int, log) -> subprocess.Popen:
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-floor", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
    wait_for(f"http://127.0.0.1:{port}/ready", server)
    return server


def wait_for(url: str, server: subprocess.Popen) -> None:
    for _attempt in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}); see its log")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url}")


def stop(server: subprocess.Popen) -> None:
    import signal

    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


async def floor_server(port: int) -> None:
    """The floor: a minimal relay speaking the same frames, nothing stored. A visitor (?key=<conversation>) and the
    agent (?agent=<index>, who owns the conversations key % agents) exchange messages through it."""
    from http import HTTPStatus

    import websockets

    agents: dict[int, object] = {}
    visitors: dict[int, object] = {}
    counter = iter(range(1, 10**9))

    async def handler(socket):
        query = dict(p.split("=", 1) for p in urlparse(socket.request.path).query.split("&") if "=" in p)
        if "agent" in query:
            me = int(query["agent"])
            agents[me] = socket
            await socket.send(json.dumps({"type": "conversations", "conversations": []}))
            async for raw in socket:
                frame = json.loads(raw)
                if frame.get("type") != "message":
                    continue
                message = {"id": next(counter), "sender": "agent", "body": frame["body"], "at": "", "agent_name": ""}
                target = visitors.get(frame["conversation"])
                if target is not None:
                    await target.send(json.dumps({"type": "message", "message": message}))
                await socket.send(
                    json.dumps({"type": "message", "conversation": frame["conversation"], "message": message})
                )
            return
        conversation, agent = int(query["key"]), int(query["agent_of"])
        visitors[conversation] = socket
        await socket.send(json.dumps({"type": "history", "conversation": {}, "messages": []}))
        async for raw in socket:
            frame = json.loads(raw)
            if frame.get("type") != "message":
                continue
            message = {"id": next(counter), "sender": "visitor", "body": frame["body"], "at": "", "agent_name": ""}
            await socket.send(json.dumps({"type": "message", "message": message}))
            target = agents.get(agent)
            if target is not None:
                await target.send(json.dumps({"type": "message", "conversation": conversation, "message": message}))

    def ready(connection, request):
        if request.path == "/ready":
            return connection.respond(HTTPStatus.OK, "ok\n")
        return None

    async with websockets.serve(handler, "127.0.0.1", port, process_request=ready, max_queue=None, ping_interval=None):
        await asyncio.Future()


# ---------------------------------------------------------------- the clients


class Run:
    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.to_agent: list[float] = []
        self.to_visitor: list[float] = []
        self.errors: list[str] = []
        self.expected = 0
        self.server_cpu = 0.0
        self.done = asyncio.Event()

    def received(self, body: str, into: list[float]) -> None:
        at = time.monotonic()
        started = self.sent.pop(body, None)
        if started is not None:
            into.append((at - started) * 1000)
            if len(self.to_agent) + len(self.to_visitor) >= self.expected:
                self.done.set()


async def run_clients(
    base: str, visitors: list[dict], agents: list[dict], *, floor: bool, messages: int, spread: float, server: int
):
    import websockets

    run = Run()
    run.expected = 2 * len(visitors) * messages
    origin = base.replace("ws://", "http://")
    agent_sockets = []

    async def agent_loop(index: int, agent: dict):
        if floor:
            url, headers = f"{base}/ws/?agent={index}", {}
        else:
            url, headers = f"{base}/ws/chat/agent/", {"Cookie": f"{agent['cookie']}={agent['session']}"}
        socket = await websockets.connect(
            url, additional_headers=headers, origin=origin, max_queue=None, ping_interval=None, open_timeout=60
        )
        agent_sockets.append(socket)
        first = json.loads(await socket.recv())
        if first.get("type") != "conversations":
            raise RuntimeError(f"agent {index} got {first}")
        if len(agent_sockets) == len(agents):
            connected.set()
        async for raw in socket:
            frame = json.loads(raw)
            if frame.get("type") == "error":
                run.errors.append(f"agent: {frame}")
            if frame.get("type") != "message" or frame["message"]["sender"] != "visitor":
                continue
            body = frame["message"]["body"]
            run.received(body, run.to_agent)
            answer = "a" + body[1:]
            run.sent[answer] = time.monotonic()
            await socket.send(json.dumps({"type": "message", "conversation": frame["conversation"], "body": answer}))

    async def visitor_open(visitor: dict):
        if floor:
            url = f"{base}/ws/?key={visitor['conversation']}&agent_of={visitor['agent']}"
        else:
            url = f"{base}/ws/chat/visitor/?key={visitor['key']}"
        socket = await websockets.connect(url, max_queue=None, ping_interval=None, open_timeout=60)
        history = json.loads(await socket.recv())
        if history.get("type") != "history":
            raise RuntimeError(f"visitor got {history}")
        return socket

    async def visitor_listen(socket):
        async for raw in socket:
            frame = json.loads(raw)
            if frame.get("type") == "error":
                run.errors.append(f"visitor: {frame}")
            elif frame.get("type") == "message" and frame["message"]["sender"] == "agent":
                run.received(frame["message"]["body"], run.to_visitor)

    async def visitor_talk(socket, visitor: dict, index: int):
        moments = sorted(random.uniform(0, spread) for _ in range(messages))
        started = time.monotonic()
        for number, moment in enumerate(moments):
            await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
            body = f"v:{index}:{number}: Merhaba, siparişim nerede?"
            run.sent[body] = time.monotonic()
            await socket.send(json.dumps({"type": "message", "body": body}))

    connected = asyncio.Event()
    agent_tasks = [asyncio.create_task(agent_loop(i, a)) for i, a in enumerate(agents)]
    await asyncio.wait_for(connected.wait(), 120)
    opened_at = time.monotonic()
    sockets = []
    for start in range(0, len(visitors), CONNECT_BATCH):
        batch = visitors[start : start + CONNECT_BATCH]
        sockets += await asyncio.gather(*(visitor_open(v) for v in batch))
    connect_seconds = time.monotonic() - opened_at
    listeners = [asyncio.create_task(visitor_listen(s)) for s in sockets]
    talk_started = time.monotonic()
    cpu_before = group_cpu_seconds(server)
    print(f"{len(sockets)} visitors connected in {connect_seconds:.1f} s; talking for {spread:.0f} s", flush=True)
    await asyncio.gather(*(visitor_talk(s, v, i) for i, (s, v) in enumerate(zip(sockets, visitors, strict=True))))
    try:
        await asyncio.wait_for(run.done.wait(), 120)
    except TimeoutError:
        run.errors.append(f"{len(run.sent)} messages not delivered within 120 s after the last send")
    talk_seconds = time.monotonic() - talk_started
    run.server_cpu = group_cpu_seconds(server) - cpu_before
    for socket in sockets + agent_sockets:
        await socket.close()
    for task in listeners + agent_tasks:
        task.cancel()
    return run, connect_seconds, talk_seconds, len(sockets) + len(agent_sockets)


def summarise(run: Run) -> dict:
    both = run.to_agent + run.to_visitor
    if not both:
        raise RuntimeError(f"nothing was delivered: {run.errors[:5]}")
    figures = {"median": statistics.median(both), "p99": percentile(both, 99)}
    for name, values in (("to_agent", run.to_agent), ("to_visitor", run.to_visitor)):
        if values:
            figures[f"{name}_median"] = statistics.median(values)
            figures[f"{name}_p99"] = percentile(values, 99)
    figures["max"] = max(both)
    figures["delivered"] = len(both)
    figures["lost"] = len(run.sent)
    return figures


def write(entries: dict) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current.update(entries)
    RESULTS.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="sqlite:////tmp/kervan-bench-chat.sqlite3")
    parser.add_argument("--visitors", type=int, default=N_VISITORS)
    parser.add_argument("--agents", type=int, default=N_AGENTS)
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--spread", type=float, default=SPREAD)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--floor", action="store_true", help="measure the minimal relay instead of Kervan")
    parser.add_argument("--serve-floor", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    limit = raise_file_limit()
    if args.serve_floor:
        asyncio.run(floor_server(args.serve_floor))
        return
    random.seed(14)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DATABASE_URL"] = args.database_url
    db = "postgresql" if args.database_url.startswith("postgres") else "sqlite"
    log = open(ROOT / "var" / "bench-chat-server.log", "w")  # noqa: SIM115 - open for the server's whole life
    if args.floor:
        visitors = [{"conversation": i, "agent": i % args.agents, "key": ""} for i in range(args.visitors)]
        agents = [{} for _ in range(args.agents)]
        server = start_floor(args.port, log)
    else:
        prepare_database(args.database_url)
        filled = time.monotonic()
        visitors, agents = fill(args.visitors, args.agents)
        print(f"filled {len(visitors)} chats for {len(agents)} agents in {time.monotonic() - filled:.1f} s")
        server = start_granian(args.port, args.database_url, log)
    try:
        run, connect_seconds, talk_seconds, sockets = asyncio.run(
            run_clients(
                f"ws://127.0.0.1:{args.port}",
                visitors,
                agents,
                floor=args.floor,
                messages=args.messages,
                spread=args.spread,
                server=server.pid,
            )
        )
    finally:
        stop(server)
    figures = summarise(run)
    rounded = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in figures.items()}
    rounded["server_cpu_ms_per_message"] = round(run.server_cpu * 1000 / max(1, figures["delivered"]), 2)
    rounded["rate_per_s"] = round(figures["delivered"] / talk_seconds, 1)
    print(json.dumps({**rounded, "connect_s": round(connect_seconds, 1), "errors": run.errors[:5]}, indent=2))
    if args.no_write:
        return
    what = "minimal websockets relay (no Django, no database)" if args.floor else "Kervan (config.asgi, granian)"
    data = (
        f"{len(visitors)} visitor WebSockets + {len(agents)} agent consoles open at once ({sockets} connections, "
        f"open file limit {limit}) on one {what} process; each visitor sends {args.messages} messages at random "
        f"moments over {args.spread:.0f} s and its agent answers each at once ({figures['delivered']} deliveries "
        f"timed, {figures['lost']} lost, {len(run.errors)} error frames); latency = client send → the other "
        f"side's receive, both clients in one asyncio process on the same 2 shared cores (1-minute load average "
        f"at the end {os.getloadavg()[0]:.1f}); connecting took {connect_seconds:.1f} s"
    )
    command = "python bench/chat_concurrency.py " + ("--floor" if args.floor else f"--database-url {args.database_url}")
    extra = {k: rounded[k] for k in rounded if k not in ("median", "p99")}
    if args.floor:
        FLOOR.write_text(json.dumps({**rounded, "unit": "ms", "data": data, "command": command}, indent=2) + "\n")
        return
    floor = json.loads(FLOOR.read_text()) if FLOOR.exists() else None
    entries = {}
    for name in ("median", "p99"):
        entry = {
            "value": rounded[name],
            "unit": "ms",
            "target": TARGETS[name],
            "data": data,
            "db": db,
            "command": command,
            **extra,
        }
        if floor:
            entry["floor"] = {
                "value": floor[name],
                "unit": "ms",
                "what": "the same clients and load against a minimal websockets relay in one process (no Django, "
                "no database): python bench/chat_concurrency.py --floor",
                "data": floor["data"],
            }
            entry["ratio"] = round(rounded[name] / max(floor[name], 0.1), 1)
        entries[f"chat message delivery {name}, 1,000 connections, {db}"] = entry
    write(entries)


if __name__ == "__main__":
    main()
