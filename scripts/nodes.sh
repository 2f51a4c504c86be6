#!/usr/bin/env bash
# Several nodes on this machine, each in its own network namespace (docs/nodes.md):
#   scripts/nodes.sh up [--db nodes_demo] [--web 2] [--workers 2] [--beats 1] [--smtp-port N]
#   scripts/nodes.sh status
#   scripts/nodes.sh down        # removes every namespace, veth, the bridge and the host-side helpers
# Needs root (ip netns, veth), PostgreSQL on 127.0.0.1:5432 and redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
exec "$PY" -m harness.nodes "$@"
