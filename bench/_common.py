"""Shared plumbing for the benchmarks: a fresh PostgreSQL database, Django set up on it, gunicorn.

Every benchmark drops and recreates its own database, migrates it with `manage.py migrate`, then
imports Django. Servers bind 127.0.0.1 on a free port and are stopped when the `with` block ends.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scripts run from bench/; `harness` and the product live at the root
from harness.processes import cpu_seconds, database_backends, free_port  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
# The product's settings, and the benchmarks' own (bench/bare_settings.py: the product plus the bench-only
# app of bare baselines, bench/bare/, and its URLs). Only the benchmarks that measure a baseline over HTTP
# use the second; the product never sees it.
SETTINGS = "config.settings"
BARE_SETTINGS = "bench.bare_settings"


def db_name(base: str) -> str:
    """A benchmark's database: `base` plus $BENCH_DB_SUFFIX (e.g. `_pb`), so that two people running
    the same script on one PostgreSQL server do not drop each other's database."""
    return base + os.environ.get("BENCH_DB_SUFFIX", "")


def bench_env(dbname: str, settings: str = SETTINGS) -> dict:
    """The environment a benchmark (and the gunicorn it starts) runs with."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{PG}/{dbname}",
        DJANGO_SETTINGS_MODULE=settings,
        SECRET_KEY="bench-only-secret-key",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        VAR_DIR=f"/tmp/{dbname}-var",
        LOG_LEVEL="ERROR",
        # whitenoise warns once per process that collectstatic has not run; the API needs no static files.
        PYTHONWARNINGS="ignore:No directory at:UserWarning",
    )
    return env


def setup(dbname: str, settings: str = SETTINGS) -> None:
    """Drop and recreate `dbname`, migrate it, and set Django up in this process on it."""
    import psycopg2

    admin = psycopg2.connect(f"{PG}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{dbname}"')
    admin.close()
    env = bench_env(dbname, settings)
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

    django.setup()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                pass
    return found


class CpuMeter:
    """CPU seconds spent by the server (gunicorn master and workers), by the PostgreSQL backends
    serving the benchmark's database, and by this (client) process: what a request costs, whatever
    else the shared machine is doing at the time."""

    def __init__(self, server_pid: int | None, dbname: str):
        """`server_pid` None: no server, the work runs in this process (reported as "client")."""
        self.server_pid, self.dbname = server_pid, dbname
        # PostgreSQL backends come and go (a server's connection older than CONN_MAX_AGE is closed
        # and replaced): a thread notes every backend's CPU every 0.2 s and the total keeps what the
        # ones that ended had spent. (Summing the backends alive at two instants lost it.)
        self._seen: dict[int, float] = {}
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def _note_pg(self, cur) -> None:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.dbname])
        for (pid,) in cur.fetchall():
            cpu = cpu_seconds(pid)
            with self._lock:
                self._seen[pid] = max(self._seen.get(pid, 0.0), cpu)

    def _watch(self) -> None:
        import psycopg2

        conn = psycopg2.connect(f"{PG}/postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            while True:
                self._note_pg(cur)
                time.sleep(0.2)

    def _pg_pids(self) -> list[int]:
        """The backends serving the database now (bench/documents.py reads them)."""
        return database_backends(PG, self.dbname)

    def _pg_total(self) -> float:
        import psycopg2

        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, daemon=True)
            self._watcher.start()
        conn = psycopg2.connect(f"{PG}/postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                self._note_pg(cur)
        finally:
            conn.close()
        with self._lock:
            return sum(self._seen.values())

    def sample(self) -> dict:
        server = [self.server_pid, *_children(self.server_pid)] if self.server_pid else []
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
        return {
            "server": sum(cpu_seconds(p) for p in server),
            "postgres": self._pg_total(),
            "client": time.process_time(),
            "machine": busy / os.sysconf("SC_CLK_TCK"),
            "wall": time.monotonic(),
        }

    @staticmethod
    def report_in_process(before: dict, after: dict) -> str:
        """CPU ms of this process and of the PostgreSQL backends for work done in this process, and
        how many cores everything else on the machine kept busy meanwhile."""
        d = {k: after[k] - before[k] for k in before}
        ours = d["postgres"] + d["client"]
        return (f"cpu_ms python={d['client'] * 1000:.0f} postgres={d['postgres'] * 1000:.0f}; "
                f"other_load_cores={max(d['machine'] - ours, 0) / d['wall']:.2f}")

    @staticmethod
    def report(before: dict, after: dict, requests: int) -> str:
        """CPU ms per request of server, postgres and client, and how many cores everything else
        on the machine kept busy meanwhile (the other people sharing it)."""
        d = {k: after[k] - before[k] for k in before}
        ours = d["server"] + d["postgres"] + d["client"]
        per = " ".join(f"{k}={d[k] * 1000 / requests:.1f}" for k in ("server", "postgres", "client"))
        return f"cpu_ms_per_request {per}; other_load_cores={max(d['machine'] - ours, 0) / d['wall']:.2f}"


def ratio(a: float, b: float) -> str:
    """a / b with two decimals ("inf" when b is 0)."""
    return f"{a / b:.2f}" if b else "inf"


@contextlib.contextmanager
def gunicorn(dbname: str, workers: int = 4, threads: int = 1, settings: str = SETTINGS):
    """Run `gunicorn config.wsgi` on 127.0.0.1:<free port>; yields (base URL, CpuMeter); stops it after."""
    import requests

    port = free_port()
    env = bench_env(dbname, settings)
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "-w",
        str(workers),
        "--threads",
        str(threads),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}")
            try:
                requests.get(f"{base}/api/v1/", timeout=10)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start within 30 s") from None
                time.sleep(0.2)
        yield base, CpuMeter(proc.pid, dbname)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def seed_round(*, rubric, units: int, groups: int, experts: int):
    """A drafted round through the domain services: `units` units (a staff member and a head each)
    split evenly over `groups` groups of a leader and `experts` experts.

    Returns (office, round, units, people, groups): people[2n] / people[2n + 1] are unit n's staff
    member and head; groups is a list of (group, leader, experts)."""
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from cases import models as m
    from cases.services import rounds

    password = make_password("bench")
    office = m.User.objects.create(username="office", org_role="office", password=password)
    unit_rows = m.Unit.objects.bulk_create(
        m.Unit(code=f"U{n:04d}", name=f"Unit {n:04d}", category="其他", sort_order=n) for n in range(units)
    )
    people = m.User.objects.bulk_create(
        m.User(username=f"{role}{n:04d}", password=password) for n in range(units) for role in ("staff", "head")
    )
    m.UnitMembership.objects.bulk_create(
        m.UnitMembership(user=people[2 * n + k], unit=unit_rows[n], role=role)
        for n in range(units)
        for k, role in enumerate(("staff", "head"))
    )
    now = timezone.now()
    round = rounds.round_create(
        user=office, title="Bench round", kind="annual", year=2026, rubric=rubric,
        **{due: now + timedelta(days=10 * (i + 1)) for i, due in enumerate(
            ["prepare_due", "inspect_due", "review_due", "approve_due", "report_due"])},
    )
    per_group = units // groups
    made = []
    for g in range(groups):
        leader = m.User.objects.create(username=f"lead{g}", password=password)
        group_experts = m.User.objects.bulk_create(
            m.User(username=f"exp{g}_{e}", password=password) for e in range(experts))
        group = rounds.group_create(
            user=office, round=round, number=g + 1, name=f"Group {g + 1}",
            members=[{"user": leader, "role": "leader"}] + [{"user": u, "role": "expert"} for u in group_experts],
            units=unit_rows[g * per_group: (g + 1) * per_group],
        )
        made.append((group, leader, group_experts))
    return office, round, unit_rows, people, made
