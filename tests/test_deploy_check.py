"""`manage.py check --deploy` passes with production settings (no warning tolerated)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_passes_with_production_settings():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "assess.example.gov.cn",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "SAMPLE_DATA_KEY": "gIOnIiDhtd8dfjzfvTNsnKF6CJPNexNz0pB3-ewUR1c=",
    }
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)  # set by the test run (and the browser tests); production has none of them
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
