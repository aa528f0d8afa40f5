"""Raw bodies in the database: stored before anything else, locked under, settled.

A request's body is authenticated and stored in one statement (`store_for_token`):
an INSERT ... SELECT from the enabled integration of that kind with that token's
hash, so an unknown, disabled or regenerated token stores nothing, at once, with no
cache to invalidate, and the sender's request costs one round trip to the database
before it is answered. The statements here are written out in SQL (PostgreSQL and
SQLite; the ORM elsewhere) because they run once per alert on the hot path, where
building them through the ORM cost more than running them.
"""

import json
from datetime import date, datetime, time
from functools import cache
from typing import NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone
from psycopg.types.json import Jsonb

from oncall.tokens import hash_token

from ..models import InboundPayload, Integration, PayloadOutcome
from .integrations import integration_for_token

MAX_TOKEN_LENGTH = 200


class Stored(NamedTuple):
    """A body stored for its integration (what a request needs of the row)."""

    pk: int
    integration_id: int


def _text(body):
    """The body as text, NUL bytes (which no database text column accepts) shown as
    U+FFFD; bytes that are not UTF-8 are kept replaced (the parser refuses them)."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return text.replace("\x00", "\ufffd")


def store_payload(integration, body):
    """Keep the body exactly as sent, committed on its own before anything else."""
    return InboundPayload.objects.create(integration=integration, body=_text(body))


def _raw_sql():
    """Whether this database runs the statements below (else the ORM does the work)."""
    return connection.vendor in ("postgresql", "sqlite")


@cache
def _stored_fields():
    return [f for f in InboundPayload._meta.local_concrete_fields if not f.primary_key]


# The columns of a stored row that each request gives (the integration's id comes
# from the statement's SELECT); every other column takes its default.
GIVEN = ("received_at", "body", "outcome")


@cache
def _defaults():
    """(field, None if given else its default as the database takes it) for each column
    of a stored row but the integration's: defaults are the same for every body, so
    prepared once."""
    return [(f, None if f.name in GIVEN else f.get_db_prep_save(f.get_default(), connection))
            for f in _stored_fields() if f.name != "integration"]


@cache
def _statements(vendor):
    """The statements, built once from the models' table and column names (quoted;
    no input ever goes into them: values are parameters)."""
    quote = connection.ops.quote_name

    def names(model, *fields):
        return [quote(model._meta.db_table)] + [quote(model._meta.get_field(f).column)
                                                for f in fields]

    pay, pid, integration_id, outcome, error, result = names(
        InboundPayload, "id", "integration", "outcome", "error", "result")
    integ, iid, token_hash, kind, enabled = names(
        Integration, "id", "token_hash", "kind", "enabled")
    # Every column of the new row: the integration's id from the SELECT, the rest
    # parameters (store_for_token gives the values, each field's default the others).
    fields = _stored_fields()
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(iid if f.name == "integration" else "%s" for f in fields)
    match = f"{token_hash} = %s AND {kind} = %s AND {enabled} = %s"
    store = f"INSERT INTO {pay} ({columns}) SELECT {values} FROM {integ} " \
            f"WHERE {match} RETURNING {pid}, {integration_id}"  # noqa: S608  # nosec B608
    lock = f"SELECT * FROM {integ} WHERE {iid} = %s FOR NO KEY UPDATE"  # noqa: S608  # nosec B608
    pending = f"SELECT count(*) FROM (SELECT 1 FROM {pay} WHERE {integration_id} = %s " \
              f"AND {outcome} = %s LIMIT %s) AS p"  # noqa: S608  # nosec B608
    if vendor == "postgresql":
        rows = "jsonb_to_recordset(%s::jsonb) AS v(id bigint, outcome text, error text, " \
               "result text)"
        values = f"{outcome} = v.outcome, {error} = v.error, {result} = v.result"
        settle = f"UPDATE {pay} SET {values} FROM {rows} WHERE {pay}.{pid} = v.id"  # noqa: S608  # nosec B608
    else:
        values = f"{outcome} = %s, {error} = %s, {result} = %s"
        settle = f"UPDATE {pay} SET {values} WHERE {pid} = %s"  # noqa: S608  # nosec B608
    return {"store": store, "lock": lock, "settle": settle, "pending": pending}


def store_for_token(token, kind, body):
    """Store `body` for the enabled integration of `kind` whose token is `token`, in one
    statement; the Stored row, or None (nothing stored) if there is no such integration.

    The token is compared by its hash, in the database, as integration_for_token does.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    text = _text(body)
    if not _raw_sql():
        integration = integration_for_token(token, kind)
        if integration is None:
            return None
        return Stored(store_payload(integration, text).pk, integration.pk)
    given = dict(zip(GIVEN, (timezone.now(), text, PayloadOutcome.RECEIVED.value),
                     strict=True))
    params = [f.get_db_prep_save(given[f.name], connection) if f.name in given else default
              for f, default in _defaults()]
    with connection.cursor() as cursor:
        cursor.execute(_statements(connection.vendor)["store"],
                       [*params, hash_token(token), str(kind), True])
        row = cursor.fetchone()
    return None if row is None else Stored(*row)


def lock_integration(integration_id, *, wait):
    """The integration's row, locked for the current transaction; None if `wait` is
    false and another transaction holds it (or there is no such integration).

    FOR NO KEY UPDATE on PostgreSQL: it excludes other drains, but not the key-share
    lock a request's INSERT of its body takes on the row it references, so storing a
    body never waits for a drain (FOR UPDATE would make every request queue on it).
    """
    if connection.vendor != "postgresql":
        return (Integration.objects.select_for_update(skip_locked=not wait, no_key=True)
                .filter(pk=integration_id).first())
    sql = _statements(connection.vendor)["lock"] + ("" if wait else " SKIP LOCKED")
    rows = list(Integration.objects.raw(sql, [integration_id]))
    return rows[0] if rows else None


def pending_count(integration_id, at_most):
    """How many of the integration's bodies are pending, counted up to `at_most`: one
    short statement (a draining task asks it every few milliseconds)."""
    with connection.cursor() as cursor:
        cursor.execute(_statements(connection.vendor)["pending"],
                       [integration_id, PayloadOutcome.RECEIVED.value, at_most])
        return cursor.fetchone()[0]


def settle(payloads):
    """Write each payload's outcome, error and result (set on the objects): one
    statement on PostgreSQL, one pipelined statement per body elsewhere."""
    if not payloads:
        return
    if not _raw_sql():
        InboundPayload.objects.bulk_update(payloads, ["outcome", "error", "result"])
        return
    sql = _statements(connection.vendor)["settle"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql, [json.dumps([
                {"id": p.pk, "outcome": p.outcome, "error": p.error, "result": p.result}
                for p in payloads])])
        else:
            cursor.executemany(sql, [(p.outcome, p.error, p.result, p.pk) for p in payloads])


@cache
def _insert_statement(model, vendor):
    """INSERT ... RETURNING the primary key, for every concrete column but the key."""
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields if not f.primary_key]
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING {pk}"  # noqa: S608  # nosec B608
    return sql, fields


def insert_new(obj):
    """Save a new row (no primary key yet, no save() of its own, no signals) with one
    prepared statement: what Model.save() does, without building the INSERT through
    the ORM each time (half the CPU of applying an alert). Other rows: save()."""
    model = type(obj)
    if obj.pk is not None or not _raw_sql():
        obj.save()
        return
    sql, fields = _insert_statement(model, connection.vendor)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        obj.pk = cursor.fetchone()[0]
    obj._state.adding, obj._state.db = False, connection.alias


def batches_writes():
    """Whether new rows and repeated updates of a batch are written together at its end
    (PostgreSQL, where ids can be taken ahead from the sequence); elsewhere each is
    written at once, as before."""
    return connection.vendor == "postgresql"


def take_ids(model, count):
    """`count` new primary keys from the model's sequence, ascending, in one round trip
    (PostgreSQL; values taken are never given again, used or not, like any insert's)."""
    quote = connection.ops.quote_name
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                       "FROM generate_series(1, %s)", [quote(table), pk, count])
        return sorted(row[0] for row in cursor.fetchall())


@cache
def _insert_many_statement(model):
    """INSERT of every concrete column (the key included) from rows given as one JSON
    array: the statement stays the same whatever the number of rows, so the driver
    parses it once (a VALUES list of rows x columns placeholders is parsed anew each
    time, which cost more than the insert saved)."""
    quote = connection.ops.quote_name
    fields = list(model._meta.local_concrete_fields)
    columns = ", ".join(quote(f.column) for f in fields)
    typed = ", ".join(f"{quote(f.column)} {f.db_type(connection)}" for f in fields)
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {columns} " \
          f"FROM jsonb_to_recordset(%s::jsonb) AS v({typed})"  # noqa: S608  # nosec B608
    return sql, fields


def _json_value(value):
    if isinstance(value, Jsonb):
        return value.obj
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def insert_many(objs):
    """Insert new rows of one model whose primary keys are already set (take_ids), in
    one statement (PostgreSQL): what insert_new does per row, for a batch's rows."""
    if not objs:
        return
    sql, fields = _insert_many_statement(type(objs[0]))
    db = connections[DEFAULT_DB_ALIAS]  # this thread's: `connection` looks it up per use
    rows = [{f.column: _json_value(f.get_db_prep_save(f.pre_save(obj, True), db))
             for f in fields} for obj in objs]
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows)])
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


def add_counts(model, counts):
    """Add to `count` and set `last_received_at` of existing rows in one statement:
    counts is {pk: (how many to add, when last received)} (PostgreSQL)."""
    if not counts:
        return
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    count = quote(model._meta.get_field("count").column)
    last = quote(model._meta.get_field("last_received_at").column)
    rows = "jsonb_to_recordset(%s::jsonb) AS v(id bigint, n integer, at timestamptz)"
    sql = f"UPDATE {table} SET {count} = {table}.{count} + v.n, {last} = v.at " \
          f"FROM {rows} WHERE {table}.{pk} = v.id"  # noqa: S608  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps([{"id": key, "n": added, "at": at.isoformat()}
                                         for key, (added, at) in counts.items()])])
