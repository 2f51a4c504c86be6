"""The README's first command on the embedded default: migrate and load the demo on a new SQLite file."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_loads_on_a_fresh_sqlite_database(tmp_path):
    env = {**os.environ, "DEBUG": "1", "VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/demo.sqlite3"}
    env.pop("SECRET_KEY", None)
    for command in (["migrate", "--noinput", "-v0"], ["setup_demo"]):
        result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "u01_staff" in result.stdout and "demo12345" in result.stdout

    db = sqlite3.connect(tmp_path / "demo.sqlite3")
    statuses = dict(db.execute("SELECT status, count(*) FROM cases_case GROUP BY status").fetchall())
    # Seed 000: 50 units in the half-year round, 3 in the finished pilot round; cases at every step.
    assert sum(statuses.values()) == 53
    assert {"prepare", "sign_off", "inspect", "score", "review", "done"} <= set(statuses)
    waiting_for_leader = db.execute(
        "SELECT count(*) FROM viewflow_task WHERE flow_task LIKE '%RoundFlow.approve' AND status = 'NEW'").fetchone()
    assert waiting_for_leader == (1,)
