"""Prepared statements for the few hottest statements (the inbox page, a task action's answer, token
authentication, a score submission's reads and writes).

The ORM builds and compiles a query on every call (~1 ms of Python for a join), and PostgreSQL plans
it on every call (~1 ms for a five-table join that then executes in 0.1 ms). A prepared statement is
written once, prepared once per connection and, with plan_cache_mode=force_generic_plan (set on
PostgreSQL connections in config/settings.py), planned once per connection.
"""

import hashlib
import re
import weakref
from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

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
        return cursor.fetchall() if cursor.description is not None else []  # a write without RETURNING: none


@cache
def _insert_sql(model: type[Model], attnames: tuple[str, ...], skip_conflicts: bool) -> tuple[str, str, list]:
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[name] for name in attnames]
    columns = ", ".join(f'"{field.column}"' for field in fields)
    values = ", ".join(f"${n}" for n in range(1, len(fields) + 1))
    sql = (f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({values})"
           f"{' ON CONFLICT DO NOTHING' if skip_conflicts else ''}")
    return "ins_" + hashlib.sha1(sql.encode()).hexdigest()[:20], sql, fields


def insert_row(model: type[Model], values: dict[str, Any], *, skip_conflicts: bool = False) -> None:
    """INSERT one row of `model` (`values` by attribute name: `actor_id`, not `actor`), on PostgreSQL as a
    prepared statement: for a row written on every request, where building the model and compiling its
    INSERT cost more than running it (a tenth of a millisecond against a third). Values go through the
    fields' own preparation (JSON, dates); no signals are sent and nothing is returned. `skip_conflicts`:
    ON CONFLICT DO NOTHING."""
    if connection.vendor != "postgresql":  # the demo's SQLite: the ORM
        model._default_manager.bulk_create([model(**values)], ignore_conflicts=skip_conflicts)
        return
    name, sql, fields = _insert_sql(model, tuple(values), skip_conflicts)
    execute_prepared(name, sql, [field.get_db_prep_save(values[field.attname], connection) for field in fields])


@cache
def _update_sql(model: type[Model], attnames: tuple[str, ...]) -> tuple[str, str, list]:
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[name] for name in attnames]
    assignments = ", ".join(f'"{field.column}" = ${n}' for n, field in enumerate(fields, start=2))
    sql = f'UPDATE {model._meta.db_table} SET {assignments} WHERE "{model._meta.pk.column}" = $1'
    return "upd_" + hashlib.sha1(sql.encode()).hexdigest()[:20], sql, fields


def update_row(instance: Model, attnames: Sequence[str]) -> None:
    """`instance.save(update_fields=attnames)` for a row written on every request, on PostgreSQL as a
    prepared statement (see `insert_row`; no signals are sent)."""
    if connection.vendor != "postgresql":  # the demo's SQLite: the ORM
        instance.save(update_fields=attnames)
        return
    name, sql, fields = _update_sql(type(instance), tuple(attnames))
    execute_prepared(name, sql, [instance.pk, *(field.get_db_prep_save(getattr(instance, field.attname), connection)
                                                for field in fields)])


_PLACEHOLDER = re.compile(r"%[%s]")


def values_page(values: QuerySet[Any, dict[str, Any]], *, offset: int, limit: int) -> list[dict[str, Any]]:
    """`list(values[offset:offset + limit])` of a `.values()` queryset with an ORDER BY, read on PostgreSQL
    through a prepared statement named after the query's text (one per shape of query: filters and access
    rule, not per page or person, since LIMIT, OFFSET and the values are parameters). For a page whose
    many joins take longer to plan than to run. Rows come through the ORM's own converters."""
    if connection.vendor != "postgresql":
        return list(values[offset: offset + limit])
    compiler = values.query.get_compiler(using=values.db)
    sql, params = compiler.as_sql()
    numbers = iter(range(1, len(params) + 2))
    sql = _PLACEHOLDER.sub(lambda x: "%" if x.group() == "%%" else f"${next(numbers)}", sql)
    sql = f"{sql} LIMIT {int(limit)} OFFSET ${next(numbers)}"
    name = "q_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
    rows = execute_prepared(name, sql, [*params, offset])
    query = values.query  # the column names as Django's ValuesIterable reads them
    names = list(query.selected) if query.selected else [*query.extra_select, *query.values_select,
                                                          *query.annotation_select]
    return [dict(zip(names, row, strict=True)) for row in compiler.results_iter(results=[rows])]


def select_columns(model: type[Model], alias: str) -> str:
    """A model's columns for a hand-written SELECT, qualified by `alias`, in the order `model_from_row`
    reads them (every concrete field: a column added later is read too)."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def model_from_row(model: type[M], row: Sequence[Any], start: int = 0) -> tuple[M, int]:
    """The instance the ORM would build from `select_columns(model, …)` at `row[start:]` (the same
    converters: JSON, the engine's references), and where the next model's columns start."""
    names, converters = _reading(model)
    end = start + len(names)
    values = list(row[start:end])
    for n, col, convert in converters:
        if values[n] is not None:
            values[n] = convert(values[n], col, connection)
    return model.from_db(connection.alias, names, values), end


@cache
def _reading(model: type[Model]) -> tuple[list[str], list[tuple[int, Any, Any]]]:
    """A model's attribute names and, for the columns that have any, the converters the ORM applies
    to them (`SQLCompiler.get_converters`), worked out once."""
    fields = model._meta.concrete_fields
    converters: list[tuple[int, Any, Any]] = []
    for n, field in enumerate(fields):
        col = field.get_col(model._meta.db_table)
        converters.extend((n, col, convert) for convert in
                          [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)])
    return [field.attname for field in fields], converters
