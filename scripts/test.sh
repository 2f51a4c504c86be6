#!/usr/bin/env bash
# The whole test suite on PostgreSQL. Uses $DATABASE_URL if set, else the local server's `test` database.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
venv_setup requirements-dev.txt

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export SECRET_KEY="${SECRET_KEY:-test-only-secret-key}"
# Static checks first (configured in pyproject.toml): lint with complexity and annotations on the typed
# core, the import contracts (layers, the engine's boundary), types.
ruff check .
lint-imports
mypy
python manage.py makemigrations --check --dry-run >/dev/null || { echo "Missing migrations: run makemigrations"; exit 1; }
python -m pytest "$@"
