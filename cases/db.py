"""Prepared statements for the few hottest reads (the inbox page, a task action's answer, token authentication).

The ORM builds and compiles a query on every call (~1 ms of Python for a join), and PostgreSQL plans
it on every call (~1 ms for a five-table join that then executes in 0.1 ms). A prepared statement is
written once, prepared once per connection and, with plan_cache_mode=force_generic_plan (set on
PostgreSQL connections in config/settings.py), planned once per connection.
"""

import weakref

from django.db import connection

# Raw psycopg2 connection → the statements prepared on it (a new connection starts with none).
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def execute_prepared(name: str, sql: str, params: list) -> list[tuple]:
    """Run `sql` (parameters $1, $2, …) as the connection's prepared statement `name`, preparing it on
    first use (PostgreSQL only). Prepared statements outlive transactions: a rollback does not undo
    the PREPARE. Without the generic plan setting PostgreSQL would keep planning for each parameter
    value (it estimates the generic plan dearer), which is the cost this avoids."""
    connection.ensure_connection()
    names = _prepared.setdefault(connection.connection, set())
    with connection.cursor() as cursor:
        if name not in names:
            cursor.execute(f"PREPARE {name} AS {sql}")
            names.add(name)
        cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)
        return cursor.fetchall()
