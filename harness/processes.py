"""Real processes for the delivery fault tests and the delivery benchmark: a private redis-server on
a free port, `celery -A config worker` subprocesses, and an in-process SMTP sink that records the
Message-ID of every message it accepted (and can stall on purpose so that a kill lands mid-send).

Everything binds 127.0.0.1 on a free port and is stopped by its context manager / `stop()`. The
machine's shared Redis on 6379 is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from email.parser import BytesHeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backends(server_url: str, dbname: str) -> list[int]:
    """The pids of the PostgreSQL backends serving `dbname` now (`server_url`: postgres://user@host:port)."""
    import psycopg2

    conn = psycopg2.connect(f"{server_url}/postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [dbname])
            return [pid for (pid,) in cur.fetchall()]
    finally:
        conn.close()


# --- SMTP sink ----------------------------------------------------------------------------------------


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough ESMTP for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT. A message counts as
    accepted when its 250 reply has been written, as for a real server."""

    def _reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        sink: SmtpSink = self.server.sink
        self._reply("220 sink ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                self._reply("250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8")
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self._reply("250 OK")
            elif verb == b"QUIT":
                self._reply("221 bye")
                return
            elif verb == b"DATA":
                if sink._should_stall():
                    # The client has sent DATA and waits for "354": the kill lands here, mid-send.
                    sink.stalled_peer = self.client_address[0]
                    sink.stalled.set()
                    sink._release.wait(sink.stall_timeout)
                self._reply("354 go ahead")
                data = []
                while True:
                    chunk = self.rfile.readline()
                    if not chunk:  # the client vanished before the final dot: nothing was accepted
                        sink.aborted += 1
                        return
                    if chunk == b".\r\n":
                        break
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                raw = b"".join(data)
                self._reply("250 OK queued")
                sink._record(raw, self.client_address[0])
            else:
                self._reply("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SmtpSink:
    """`with SmtpSink() as sink:` → `sink.port`, `sink.message_ids` (in order of acceptance, repeats
    kept), `sink.stall_at(n)` to hold the n-th DATA command (counted from now) until `release()`.
    `host` is the address it listens on (the multi-node harness: the bridge's, 10.77.0.1);
    `sink.by_peer` counts accepted messages per client address, `sink.stalled_peer` is the address
    of the client whose DATA is held."""

    def __init__(self, stall_timeout: float = 30.0, host: str = "127.0.0.1"):
        self.port = free_port() if host == "127.0.0.1" else 0
        self.message_ids: list[str] = []
        self.by_peer: dict[str, int] = {}
        self.received: list[tuple[str, str]] = []  # (Message-ID, client address) in order of acceptance
        self.stalled_peer: str | None = None
        self.aborted = 0
        self.stall_timeout = stall_timeout
        self.stalled = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._data_commands = 0
        self._stall_at: int | None = None
        self._server = _Server((host, self.port), _SmtpHandler)
        self.port = self._server.server_address[1]
        self._server.sink = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def stall_at(self, n: int) -> None:
        with self._lock:
            self._stall_at = self._data_commands + n
            self.stalled.clear()
            self._release.clear()

    def release(self) -> None:
        self._release.set()

    def _should_stall(self) -> bool:
        with self._lock:
            self._data_commands += 1
            return self._stall_at is not None and self._data_commands == self._stall_at

    def _record(self, raw: bytes, peer: str = "") -> None:
        mid = BytesHeaderParser().parsebytes(raw).get("Message-ID", "").strip()
        with self._lock:
            self.message_ids.append(mid)
            self.by_peer[peer] = self.by_peer.get(peer, 0) + 1
            self.received.append((mid, peer))

    def count(self) -> int:
        with self._lock:
            return len(self.message_ids)


# --- Redis ---------------------------------------------------------------------------------------------------


class RedisServer:
    """A private, memory-only redis-server on a free port; `stop()` and `start()` again on the same port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="redis-")
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._dir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        wait_until(self.ping, timeout, what=f"redis-server on {self.port}")
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


# --- Celery worker -------------------------------------------------------------------------------------------


class Worker:
    """`celery -A config worker` (solo pool by default) in its own session, so that a SIGKILL takes
    exactly it and its pool's children. It logs at INFO: its "ready." line tells us it consumes, and
    the tests count its "succeeded in" lines."""

    def __init__(self, env: dict, name: str, pool: str = "solo", concurrency: int = 1, *,
                 max_tasks_per_child: int | None = None, prefetch_multiplier: int | None = None,
                 queues: str = "celery,documents", extra_args: tuple[str, ...] = ()):
        self.env = env
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"celery-{name}-", suffix=".log")[1])
        self.pool = pool
        self.concurrency = concurrency
        # Prefork pool only: a child is replaced after this many tasks (the document renderers' memory).
        self.max_tasks_per_child = max_tasks_per_child
        self.prefetch_multiplier = prefetch_multiplier
        self.queues = queues  # the default queue (outbox, sweeps) and the documents' (config/settings.py)
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> Worker:
        cmd = [
            sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={self.pool}",
            f"--concurrency={self.concurrency}", "-Q", self.queues, "-l", "info",
            "-n", f"{self.name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]
        if self.max_tasks_per_child:
            cmd.append(f"--max-tasks-per-child={self.max_tasks_per_child}")
        if self.prefetch_multiplier:
            cmd.append(f"--prefetch-multiplier={self.prefetch_multiplier}")
        cmd.extend(self.extra_args)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        try:
            wait_until(self._ready, timeout, interval=0.1, what=f"worker {self.name} ready")
        except Exception as exc:
            tail = self.log()[-3000:]
            self.close()
            raise RuntimeError(f"worker {self.name} did not start: {exc}\n{tail}") from exc
        return self

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker {self.name} exited with {self.proc.returncode}:\n{self.log()}")
        return " ready." in self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgement, open sockets dropped by the kernel."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def pids(self) -> list[int]:
        """The worker's main process and its pool's children, now."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid, *descendants(self.proc.pid)]

    def children(self) -> list[int]:
        """The pool's child processes now (prefork); empty for the solo and threads pools."""
        return descendants(self.proc.pid) if self.proc is not None and self.proc.poll() is None else []


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, their children, …)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the process's peak resident set so far) in KiB; {} if it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:
        return {}
    return out


class RssSampler:
    """Samples the peak RSS (VmHWM) of processes every `interval` seconds in a thread, so that a pool
    child recycled by `--max-tasks-per-child` is seen before it exits. `pids()` is asked each time
    (e.g. `lambda: [p for w in workers for p in w.children()]`). `peaks` maps pid → highest VmHWM
    seen (KiB); a child's growth in its last `interval` before exit can be missed."""

    def __init__(self, pids, interval: float = 0.1):
        self._pids = pids
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        for pid in self._pids():
            hwm = memory_kb(pid).get("VmHWM")
            if hwm is not None and hwm > self.peaks.get(pid, 0):
                self.peaks[pid] = hwm

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()

    def peak_mb(self) -> float:
        return max(self.peaks.values(), default=0) / 1024


def worker_env(*, database_url: str, broker_url: str, smtp_port: int, **extra: str) -> dict:
    """The environment of a worker that sends through the SMTP sink with a Redis broker."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        SECRET_KEY=env.get("SECRET_KEY", "test-only-secret-key"),
        LOG_LEVEL="WARNING",
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def broker(app, url: str):
    """Point this process's Celery app (the one `notification_create` kicks through) at `url`."""
    old = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url = url
    app.conf.broker_transport_options = {"socket_connect_timeout": 2, "max_retries": 1, "interval_start": 0}
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = old
