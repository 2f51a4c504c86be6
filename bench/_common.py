"""Shared plumbing for the benchmarks: a fresh PostgreSQL database, Django set up on it, gunicorn.

Every benchmark drops and recreates its own database, migrates it with `manage.py migrate`, then
imports Django. Servers bind 127.0.0.1 on a free port and are stopped when the `with` block ends.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def bench_env(dbname: str) -> dict:
    """The environment a benchmark (and the gunicorn it starts) runs with."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{PG}/{dbname}",
        DJANGO_SETTINGS_MODULE="config.settings",
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


def setup(dbname: str) -> None:
    """Drop and recreate `dbname`, migrate it, and set Django up in this process on it."""
    import psycopg2

    admin = psycopg2.connect(f"{PG}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{dbname}"')
    admin.close()
    env = bench_env(dbname)
    os.environ.update(env)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    sys.path.insert(0, str(ROOT))
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

    django.setup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(dbname: str, workers: int = 4, threads: int = 1):
    """Run `gunicorn config.wsgi` on 127.0.0.1:<free port>; yields the base URL; stops it after."""
    import requests

    port = free_port()
    env = bench_env(dbname)
    cmd = [
        sys.executable, "-m", "gunicorn", "config.wsgi",
        "-w", str(workers), "--threads", str(threads),
        "-b", f"127.0.0.1:{port}", "--log-level", "warning",
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
        yield base
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
