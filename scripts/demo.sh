#!/usr/bin/env bash
# One command: install, create the embedded SQLite database, load the demo rounds, serve on :8000.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
# A CJK font (without one every 汉字 in pages and PDFs is a box) and harfbuzz-subset (PDFs with
# Chinese text in ~0.2 s instead of ~15 s).
debian_packages fonts-noto-cjk fonts-arphic-ukai libharfbuzz-subset0 poppler-utils
venv_setup requirements.txt

PORT="${PORT:-8000}"
# The embedded database, uploads, the server-less Celery broker (kombu's filesystem transport) and
# the demo's own secret key live in var/ (not in git).
mkdir -p var/broker var/broker-control
[ -s var/secret_key ] || python -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key
# The demo runs as production does (DEBUG off: no tracebacks or URL lists for visitors, the API's JSON
# errors everywhere), over plain HTTP on this machine: no HTTPS redirect, no secure-only cookies.
export DEBUG="${DEBUG:-0}" SECRET_KEY="${SECRET_KEY:-$(cat var/secret_key)}"
export SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0 SECURE_HSTS_SECONDS=0
step "Creating the database (SQLite, var/demo.sqlite3)"
python manage.py migrate --noinput -v0
step "Loading the demo rounds"
python manage.py setup_demo

# One Celery worker with the scheduler built in: renders documents, delivers the outbox (emails go to var/worker.log
# through the console backend), sends reminders and escalations.
celery -A config worker --beat --pool=solo -Q celery,documents -l warning -s var/celerybeat-schedule > var/worker.log 2>&1 &
WORKER=$!
trap 'kill "$WORKER" 2>/dev/null' EXIT INT TERM

echo
echo "Service: http://127.0.0.1:${PORT}/   (API docs: http://127.0.0.1:${PORT}/api/docs/; worker log: var/worker.log)"
echo
python manage.py runserver "0.0.0.0:${PORT}"
