"""Servers of a test's own, on free side ports, for fault tests that stop, kill or restart
them (never the shared ones): Mosquitto with persistence, and a throwaway PostgreSQL
cluster made with initdb/pg_ctl."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.conftest import service_missing

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, seconds: float = 10, up: bool = True) -> None:
    """Wait until something accepts (``up``) or refuses connections on ``port``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} still {'closed' if up else 'open'} after {seconds} s")


class SideRedis:
    """A Redis on a free port, keeping nothing on disk, that a test may stop (SIGSTOP)."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("redis-server") is None:
            service_missing("redis-server", FileNotFoundError("redis-server"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def hang(self) -> None:
        """Stop it answering, connections left open (as a hung server does)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.resume()
        self.process.kill()
        self.process.wait()


class SideMosquitto:
    """A Mosquitto on a free port that keeps its sessions and queued messages on disk
    (saved when it is stopped with SIGTERM), so it can be restarted mid-stream."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("mosquitto") is None:
            service_missing("mosquitto", FileNotFoundError("mosquitto"))
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        as_root = "user root\n" if os.geteuid() == 0 else ""  # else it drops to 'mosquitto'
        self.config.write_text(
            f"{as_root}listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {directory}/\nmax_queued_messages 0\n"
            f"max_inflight_messages 20\n", encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop it as an operator would (SIGTERM: it saves its sessions)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
            self.process = None
        wait_for_port(self.port, up=False)

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class SidePostgres:
    """A PostgreSQL cluster of the test's own (initdb into a temp directory, run as the
    postgres user when the tests run as root), with trust auth and a database ``test``."""

    def __init__(self) -> None:
        if PG_BIN is None:
            service_missing("PostgreSQL binaries", FileNotFoundError("/usr/lib/postgresql"))
        # its own directory, not under pytest's (which the postgres user cannot enter)
        self.directory = Path(tempfile.mkdtemp(prefix="citylens-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/test"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                           "--auth=trust", "--no-sync", "-E", "UTF8"])
        self.start()
        self._as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                           "-U", "postgres", "test"])

    def _as_postgres(self, command: list[str]) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip() or done.stdout}")

    def start(self) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                           str(self.directory / "log"), "-o",
                           f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                           "-c fsync=off", "start"])

    def stop(self) -> None:
        """Stop it at once (fast shutdown: connections are cut)."""
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast",
                           "stop"])

    def close(self) -> None:
        """Stop it (if it runs) and remove its files."""
        try:
            self.stop()
        except RuntimeError:
            pass  # already stopped
        shutil.rmtree(self.directory, ignore_errors=True)


class SideSmtp:
    """An SMTP server of the test's own: aiosmtpd in a separate process on a free port,
    writing every message it accepts into a Maildir (``messages()`` reads them back)."""

    def __init__(self, directory: Path) -> None:
        import sys

        self.maildir = directory / "maildir"
        for part in ("cur", "new", "tmp"):
            (self.maildir / part).mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def messages(self) -> list[Any]:
        """Every message received so far, oldest first, as ``email.message.EmailMessage``."""
        import mailbox
        from email import policy
        from email.parser import BytesParser

        box = mailbox.Maildir(self.maildir, create=False)
        parser = BytesParser(policy=policy.default)
        found = [(key, parser.parsebytes(box.get_bytes(key))) for key in box.keys()]
        paths = {key: (self.maildir / box._toc[key]).stat().st_mtime_ns  # noqa: SLF001
                 for key, _ in found}
        return [message for key, message in sorted(found, key=lambda item: paths[item[0]])]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class WebhookReceiver:
    """A local HTTP server that records every JSON POST it gets; ``fail_next`` makes the
    next N answers 503 (a chat server having a bad minute), ``refuse`` answers 404."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.bodies: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.fail_next = 0
        self.refuse = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if receiver.refuse:
                    self.send_response(404)
                elif receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(503)
                else:
                    receiver.bodies.append(json.loads(body))
                    receiver.headers.append(dict(self.headers))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/T000/secret-part"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
