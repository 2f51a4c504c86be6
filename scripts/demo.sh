#!/usr/bin/env bash
# One command: install, create the embedded SQLite database, load the demo rounds, serve on :8000.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
# A CJK font (without one every 汉字 in pages and PDFs is a box) and harfbuzz-subset (PDFs with
# Chinese text in ~0.2 s instead of ~15 s).
debian_packages fonts-noto-cjk libharfbuzz-subset0
venv_setup requirements.txt

export DEBUG="${DEBUG:-1}"
PORT="${PORT:-8000}"
# The embedded database, uploads and the server-less Celery broker (kombu's filesystem transport)
# live in var/ (not in git).
mkdir -p var/broker var/broker-control
step "Creating the database (SQLite, var/demo.sqlite3)"
python manage.py migrate --noinput -v0
step "Loading the demo rounds"
python manage.py setup_demo

# One Celery worker with the scheduler built in: delivers the outbox (emails go to var/worker.log
# through the console backend), sends reminders and escalations.
celery -A config worker --beat --pool=solo -l warning -s var/celerybeat-schedule > var/worker.log 2>&1 &
WORKER=$!
trap 'kill "$WORKER" 2>/dev/null' EXIT INT TERM

echo
echo "Service: http://127.0.0.1:${PORT}/   (API docs: http://127.0.0.1:${PORT}/api/docs/; worker log: var/worker.log)"
echo
python manage.py runserver "0.0.0.0:${PORT}"
