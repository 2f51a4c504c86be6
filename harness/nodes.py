"""Several nodes on one machine: gunicorn and Celery processes, each in its own network namespace.

    python -m harness.nodes up [--db nodes_demo] [--web 2] [--workers 2] [--beats 1]   # (scripts/nodes.sh)
    python -m harness.nodes status
    python -m harness.nodes down

The network (root only; `docs/nodes.md`):

    host: bridge svcbr0 10.77.0.1/24
          ├─ 10.77.0.1:5432  TCP forward (harness/tcpforward.py) → PostgreSQL on 127.0.0.1:5432
          └─ 10.77.0.1:6379  a private redis-server (broker on /0, cache on /1), bound to the bridge only
    netns nodes_web1     10.77.0.11:8000   gunicorn config.wsgi
    netns nodes_web2     10.77.0.12:8000   gunicorn config.wsgi
    netns nodes_worker1  10.77.0.21        celery -A config worker
    netns nodes_worker2  10.77.0.22        celery -A config worker
    netns nodes_beat1    10.77.0.31        celery -A config beat   (nodes_beat2 .32: the mistaken second one)

Each namespace has a loopback and one veth whose other end sits on the bridge; no default route, so a
node reaches the bridge's addresses only. Every process gets its whole configuration from environment
variables (`Cluster.env`), as in production. A node is killed with SIGKILL to every process of its
namespace (`ip netns pids`). `down` removes everything this module made, also after a crash of the
process that made it: it kills whatever runs in the `nodes_*` namespaces, deletes them (which deletes
their veths) and the bridge, and stops the host-side helpers recorded in the state folder. PostgreSQL's
configuration is never changed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.processes import cpu_seconds, database_backends, wait_until

ROOT = Path(__file__).resolve().parents[1]
BRIDGE = "svcbr0"
HOST_IP = "10.77.0.1"
NS_PREFIX = "nodes_"
NODE_IPS = {
    "web1": "10.77.0.11", "web2": "10.77.0.12",
    "worker1": "10.77.0.21", "worker2": "10.77.0.22",
    "beat1": "10.77.0.31", "beat2": "10.77.0.32",
}
WEB_PORT = 8000
PG_PORT = 5432
REDIS_PORT = 6379
STATE = Path(os.environ.get("NODES_STATE_DIR", "/tmp/nodes_cluster"))
PG_LOCAL = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def kind(name: str) -> str:
    return name.rstrip("0123456789")


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def unavailable() -> str | None:
    """Why namespaces cannot be made here (None if they can)."""
    if os.geteuid() != 0:
        return "needs root for ip netns and veth pairs"
    if shutil.which("ip") is None:
        return "needs iproute2's ip command"
    probe = f"{NS_PREFIX}probe{os.getpid()}"
    made = run("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    run("ip", "netns", "del", probe, check=False)
    return None


# --- the network -------------------------------------------------------------------------------------


def namespaces() -> list[str]:
    out = run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(NS_PREFIX)]


def ns_pids(ns: str) -> list[int]:
    out = run("ip", "netns", "pids", ns, check=False).stdout
    return [int(p) for p in out.split()]


def bridge_up() -> None:
    if run("ip", "link", "show", BRIDGE, check=False).returncode != 0:
        run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "replace", f"{HOST_IP}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")


def node_net_up(name: str) -> None:
    """The namespace nodes_<name> with lo and eth0 (its address), the veth's host end on the bridge."""
    ns, ip = NS_PREFIX + name, NODE_IPS[name]
    host_end, node_end = f"vh_{name}", f"vn_{name}"
    if ns in namespaces():
        return
    run("ip", "netns", "add", ns)
    run("ip", "link", "add", host_end, "type", "veth", "peer", "name", node_end)
    run("ip", "link", "set", node_end, "netns", ns)
    run("ip", "link", "set", host_end, "master", BRIDGE, "up")
    run("ip", "-n", ns, "link", "set", "lo", "up")
    run("ip", "-n", ns, "link", "set", node_end, "name", "eth0")
    run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
    run("ip", "-n", ns, "link", "set", "eth0", "up")


def kill_namespace(ns: str) -> list[int]:
    """SIGKILL every process in the namespace (no cleanup, no acknowledgement, sockets dropped)."""
    pids = ns_pids(ns)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while ns_pids(ns) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def down() -> list[str]:
    """Remove everything: processes in the namespaces, the namespaces (and so their veths), the
    bridge, the host-side helpers. Safe to run any number of times."""
    done = []
    for ns in namespaces():
        kill_namespace(ns)
        run("ip", "netns", "del", ns, check=False)
        done.append(ns)
    for pidfile in STATE.glob("*.pid") if STATE.exists() else []:
        with contextlib.suppress(ValueError, OSError):
            pid = int(pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if pidfile.stem.encode() in cmdline or b"tcpforward" in cmdline or b"redis-server" in cmdline:
                os.killpg(pid, signal.SIGKILL)
                done.append(pidfile.stem)
        pidfile.unlink(missing_ok=True)
    for link in run("ip", "-o", "link", "show", check=False).stdout.splitlines():
        name = link.split(":")[1].strip().split("@")[0]
        if name.startswith("vh_"):
            run("ip", "link", "del", name, check=False)
    if run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
        run("ip", "link", "del", BRIDGE, check=False)
        done.append(BRIDGE)
    return done


# --- processes -----------------------------------------------------------------------------------------


class Proc:
    """One process started in a node's namespace (or on the host when `ns` is None), logging to a file."""

    def __init__(self, name: str, cmd: list[str], env: dict, ns: str | None):
        self.name, self.cmd, self.env, self.ns = name, cmd, env, ns
        self.log_path = STATE / "logs" / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        prefix = ["ip", "netns", "exec", self.ns] if self.ns else []
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(prefix + self.cmd, cwd=ROOT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        (STATE / f"{self.name}.pid").write_text(str(self.proc.pid))
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def pids(self) -> list[int]:
        return ns_pids(self.ns) if self.ns else ([self.proc.pid] if self.alive() else [])

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        (STATE / f"{self.name}.pid").unlink(missing_ok=True)


def _http_up(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return True  # any answer (401 without a token) means gunicorn serves
    except OSError:
        return False
    return True


# --- the cluster -----------------------------------------------------------------------------------------


class Cluster:
    """The host-side helpers and the nodes, on database `dbname` (which must exist and be migrated)."""

    def __init__(self, dbname: str, *, smtp_port: int | None = None, web_workers: int = 2,
                 worker_concurrency: int = 4, fast_beat: bool = False, **extra_env: str):
        self.dbname = dbname
        self.smtp_port = smtp_port
        self.web_workers = web_workers
        self.worker_concurrency = worker_concurrency
        self.fast_beat = fast_beat
        self.extra_env = extra_env
        self.procs: dict[str, Proc] = {}
        self.helpers: dict[str, Proc] = {}

    # configuration: environment variables only
    @property
    def broker_url(self) -> str:
        return f"redis://{HOST_IP}:{REDIS_PORT}/0"

    @property
    def cache_url(self) -> str:
        return f"redis://{HOST_IP}:{REDIS_PORT}/1"

    def env(self, **more: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=f"postgres://postgres@{HOST_IP}:{PG_PORT}/{self.dbname}",
            CELERY_BROKER_URL=self.broker_url,
            CACHE_URL=self.cache_url,
            SECRET_KEY="nodes-only-secret-key",
            DEBUG="0", SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0",
            ALLOWED_HOSTS=",".join(ip for name, ip in NODE_IPS.items() if kind(name) == "web"),
            SITE_URL=f"http://{NODE_IPS['web1']}:{WEB_PORT}",
            VAR_DIR=str(STATE / "var"),  # uploads: one folder here; separate machines need shared storage
            LOG_LEVEL="WARNING",
            PYTHONWARNINGS="ignore",
        )
        if self.smtp_port:
            env.update(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST=HOST_IP,
                       EMAIL_PORT=str(self.smtp_port))
        env.update(self.extra_env)
        env.update(more)
        return env

    def web_url(self, name: str) -> str:
        return f"http://{NODE_IPS[name]}:{WEB_PORT}"

    # host side
    def start_helpers(self) -> None:
        STATE.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(STATE / "logs", ignore_errors=True)  # each cluster's logs are its own (the checks read them)
        bridge_up()
        env = dict(os.environ)
        self.helpers["pgforward"] = Proc(
            "pgforward", [sys.executable, "-m", "harness.tcpforward", f"{HOST_IP}:{PG_PORT}", f"127.0.0.1:{PG_PORT}"],
            env, None).start()
        self.helpers["redis"] = Proc(
            "redis", ["redis-server", "--bind", HOST_IP, "--protected-mode", "no", "--port", str(REDIS_PORT),
                      "--save", "", "--appendonly", "no", "--dir", str(STATE), "--loglevel", "warning"], env, None).start()
        wait_until(lambda: "forwarding" in self.helpers["pgforward"].log(), 10, what="the PostgreSQL forward")
        wait_until(self._redis_ping, 10, what="redis-server on the bridge")

    def _redis_ping(self) -> bool:
        import socket

        try:
            with socket.create_connection((HOST_IP, REDIS_PORT), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    # nodes
    def command(self, name: str) -> list[str]:
        py = sys.executable
        if kind(name) == "web":
            return [py, "-m", "gunicorn", "config.wsgi", "-w", str(self.web_workers), "-b",
                    f"{NODE_IPS[name]}:{WEB_PORT}", "--log-level", "warning", "--access-logfile", "-",
                    "--access-logformat", f"{name} %(m)s %(U)s %(s)s"]
        if kind(name) == "worker":
            return [py, "-m", "celery", "-A", "config", "worker", "--pool=threads",
                    f"--concurrency={self.worker_concurrency}", "-Q", "celery,documents", "-l", "info",
                    "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if kind(name) == "beat":
            app = "harness.fastbeat" if self.fast_beat else "config"
            return [py, "-m", "celery", "-A", app, "beat", "-l", "info", "-s", str(STATE / f"{name}-schedule")]
        raise ValueError(name)

    def start(self, *names: str, timeout: float = 60.0, env: dict | None = None) -> None:
        """Start the nodes (in parallel) and wait until each is ready; `env` adds to their environment."""
        for name in names:
            node_net_up(name)
            env_ = self.env(**({"LOG_LEVEL": "INFO"} if kind(name) == "beat" else {}), **(env or {}))
            if name in self.procs:  # a restart: the checks read the whole log, so it starts afresh
                self.procs[name].log_path.unlink(missing_ok=True)
            self.procs[name] = Proc(name, self.command(name), env_, NS_PREFIX + name).start()
        for name in names:
            wait_until(lambda name=name: self._ready(name), timeout, what=f"node {name}")

    def _ready(self, name: str) -> bool:
        proc = self.procs[name]
        if not proc.alive():
            raise RuntimeError(f"node {name} exited with {proc.proc.returncode}:\n{proc.log()[-3000:]}")
        if kind(name) == "web":
            return _http_up(f"{self.web_url(name)}/api/v1/")
        if kind(name) == "worker":
            return " ready." in proc.log()
        return "beat: Starting" in proc.log() or "Scheduler" in proc.log()

    def kill(self, name: str) -> list[int]:
        """SIGKILL every process in the node's namespace; returns their pids."""
        pids = kill_namespace(NS_PREFIX + name)
        proc = self.procs.get(name)
        if proc and proc.proc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.proc.wait(timeout=10)
        return pids

    def stop(self, *names: str) -> None:
        for name in names or list(self.procs):
            if name in self.procs:
                self.procs[name].stop()

    def close(self) -> None:
        for proc in self.procs.values():
            proc.stop(timeout=10)
        for proc in self.helpers.values():
            proc.stop(timeout=5)
        down()

    def __enter__(self) -> Cluster:
        down()  # what a crashed earlier run may have left
        self.start_helpers()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # measurement
    def cpu(self) -> dict[tuple[str, int], float]:
        """CPU seconds so far of each process, keyed by (kind, pid): web, worker, beat (every process in
        their namespaces), pgforward, redis, postgres (the backends of this database). Per process, so
        that `cpu_delta` counts a backend or a process that appeared in between from zero instead of
        letting one that went away make the sum shrink."""
        out: dict[tuple[str, int], float] = {}
        for name, proc in self.procs.items():
            out.update({(kind(name), p): cpu_seconds(p) for p in proc.pids()})
        for name, proc in self.helpers.items():
            out.update({(name, p): cpu_seconds(p) for p in proc.pids()})
        out.update({("postgres", p): cpu_seconds(p) for p in self.pg_backends()})
        return out

    @staticmethod
    def cpu_delta(before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]) -> dict[str, float]:
        """CPU seconds spent between two `cpu()` samples, by kind (a process gone by `after` is missed)."""
        out: dict[str, float] = {}
        for (k, pid), seconds in after.items():
            out[k] = out.get(k, 0.0) + seconds - before.get((k, pid), 0.0)
        return out

    def pg_backends(self) -> list[int]:
        return database_backends(PG_LOCAL, self.dbname)


def status() -> str:
    lines = []
    bridge = run("ip", "-br", "addr", "show", BRIDGE, check=False).stdout.strip()
    lines.append(f"bridge: {bridge or 'absent'}")
    for ns in namespaces():
        addr = run("ip", "-n", ns, "-br", "addr", "show", "eth0", check=False).stdout.split()
        pids = ns_pids(ns)
        lines.append(f"{ns}: {' '.join(addr[2:]) or '-'} processes={len(pids)}")
        name = ns[len(NS_PREFIX):]
        if kind(name) == "web" and name in NODE_IPS:
            up = _http_up(f"http://{NODE_IPS[name]}:{WEB_PORT}/api/v1/")
            lines.append(f"    http://{NODE_IPS[name]}:{WEB_PORT}/ {'answers' if up else 'DOES NOT ANSWER'}")
    for pidfile in sorted(STATE.glob("*.pid")) if STATE.exists() else []:
        pid = pidfile.read_text().strip()
        alive = Path(f"/proc/{pid}").exists()
        lines.append(f"host {pidfile.stem}: pid {pid} {'running' if alive else 'gone'}")
    return "\n".join(lines)


def ensure_database(dbname: str, fresh: bool = False) -> None:
    """Create (or with `fresh`, recreate) the database and migrate it (from the host, over 127.0.0.1)."""
    import psycopg2

    admin = psycopg2.connect(f"{PG_LOCAL}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        if fresh:
            cur.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname])
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{dbname}"')
    admin.close()
    env = dict(os.environ, DATABASE_URL=f"{PG_LOCAL}/{dbname}", DJANGO_SETTINGS_MODULE="config.settings",
               SECRET_KEY="nodes-only-secret-key", PYTHONWARNINGS="ignore")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/nodes.sh", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bridge, namespaces, helpers and nodes; they keep running until `down`")
    up.add_argument("--db", default="nodes_demo", help="database (created and migrated if missing)")
    up.add_argument("--web", type=int, default=2, choices=(1, 2))
    up.add_argument("--workers", type=int, default=2, choices=(0, 1, 2))
    up.add_argument("--beats", type=int, default=1, choices=(0, 1, 2))
    up.add_argument("--smtp-port", type=int, default=None, help="an SMTP server on 10.77.0.1 (default: console email)")
    sub.add_parser("status")
    sub.add_parser("down")
    args = parser.parse_args(argv)
    reason = unavailable()
    if reason and args.command != "status":
        print(f"cannot: {reason}", file=sys.stderr)
        return 2
    if args.command == "down":
        print("removed:", " ".join(down()) or "nothing")
        return 0
    if args.command == "status":
        print(status())
        return 0
    ensure_database(args.db)
    names = ([f"web{i + 1}" for i in range(args.web)] + [f"worker{i + 1}" for i in range(args.workers)]
             + [f"beat{i + 1}" for i in range(args.beats)])
    cluster = Cluster(args.db, smtp_port=args.smtp_port)
    try:
        down()
        cluster.start_helpers()
        cluster.start(*names)
    except BaseException:
        cluster.close()
        raise
    print(status())
    print(f"logs: {STATE / 'logs'}; stop with: scripts/nodes.sh down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
