#!/usr/bin/env bash
# One command: install, create the embedded SQLite database, load the demo rounds, serve on :8000.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
venv_setup requirements.txt

export DEBUG="${DEBUG:-1}"
PORT="${PORT:-8000}"
mkdir -p var  # the embedded database, uploads and the demo broker live here (not in git)
python manage.py migrate --noinput -v0
python manage.py setup_demo
echo
echo "Service: http://127.0.0.1:${PORT}/   (API docs: http://127.0.0.1:${PORT}/api/docs/)"
echo
exec python manage.py runserver "0.0.0.0:${PORT}"
