"""A counting SMTP sink for the sending benchmarks, in its own process (it does not share the senders' GIL): it
accepts every message and logs each one's X-Kervan-Message header and size, one line per message, as it arrives.

    server = Server(work_dir)   # starts `python bench/smtp_sink.py PORT LOG` and waits for the port
    server.count(), server.keys(), server.mean_size(), server.clear(), server.stop()
"""

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

KEY = re.compile(rb"\nX-Kervan-Message: *([^\r\n]+)", re.IGNORECASE)


def serve(port: int, log: Path) -> None:
    """Accept everything; write each message's X-Kervan-Message to `log`, one line per message, as it arrives."""
    import asyncio

    from aiosmtpd.controller import Controller

    out = log.open("a", buffering=1)

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            found = KEY.search(envelope.content)
            out.write(f"{found.group(1).decode() if found else '?'} {len(envelope.content)}\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, data_size_limit=0)
    controller.start()
    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), out.close(), sys.exit(0)))
    asyncio.run(asyncio.Event().wait())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = work / f"received-{self.port}.log"
        self.log.unlink(missing_ok=True)
        self.log.touch()
        self.process = subprocess.Popen([sys.executable, __file__, str(self.port), str(self.log)])
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the SMTP server did not start")

    def count(self) -> int:
        with self.log.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))

    def keys(self) -> list[str]:
        return [line.split()[0] for line in self.log.read_text().splitlines() if line.strip()]

    def mean_size(self) -> int:
        sizes = [int(line.split()[1]) for line in self.log.read_text().splitlines() if len(line.split()) > 1]
        return sum(sizes) // len(sizes) if sizes else 0

    def clear(self) -> None:
        self.log.write_text("")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


if __name__ == "__main__":
    serve(int(sys.argv[1]), Path(sys.argv[2]))
