"""Statements written out, for the few paths where building the query costs more than
running it.

Every chat message runs the same handful of statements (lock the poster's membership,
read the room's posting state, count the poster's recent posts, take a seq, insert). On
PostgreSQL over loopback each statement's round trip takes 0.1–0.4 ms, while the ORM
spends 0.4–1.5 ms of Python building and compiling each one, and on a busy server that
Python waits for the GIL behind the live fan-out. Written out, a post took 4.8 ms instead
of 8.8 ms (median, A/B in one process; docs/live.md has the figures).

Only public Django API: `QuerySet.raw()` (which applies the fields' database converters,
so a SQLite datetime comes back aware, as from the ORM), `Field.get_db_prep_value` /
`get_db_prep_save` / `pre_save` for parameters, and `Model._state`. Table and column names
come from the models' `_meta`, never from input.
"""

from typing import Any

from django.db import connection, models
from django.db.models import signals


def column_list(model: type[models.Model], names: tuple[str, ...] | None = None) -> str:
    """The model's columns (all concrete fields, or the named ones), for a SELECT."""
    fields = (
        model._meta.concrete_fields
        if names is None
        else [model._meta.get_field(name) for name in names]
    )
    return ", ".join(connection.ops.quote_name(field.column) for field in fields)


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def param(model: type[models.Model], field_name: str, value: Any) -> Any:
    """`value` as the database takes it for that field's column (a UUID as SQLite's text,
    an aware datetime as SQLite's naive UTC text, …); for a relation, the related object
    or its primary key."""
    if isinstance(value, models.Model):
        value = value.pk
    field = model._meta.get_field(field_name)
    return field.get_db_prep_value(value, connection, prepared=False)


def for_update() -> str:
    """Row locks where the database has them. SQLite has none: its IMMEDIATE transactions
    (settings.SQLITE_OPTIONS) already let one writer in at a time."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def first(rows: models.query.RawQuerySet) -> Any:
    for row in rows:
        return row
    return None


def insert(instance: models.Model) -> models.Model:
    """INSERT one new model instance in one round trip (`RETURNING` its primary key), as
    `save()` would store it; the instance is then saved as far as Django is concerned.
    Sends no signals: where something listens to the model's saves, it is saved the
    ORM's way instead, so a receiver added later is never skipped."""
    model = type(instance)
    if signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model):
        instance.save(force_insert=True)
        return instance
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    pk = connection.ops.quote_name(model._meta.pk.column)
    statement = (
        f"INSERT INTO {table(model)} ({columns}) "  # noqa: S608 (names from _meta)
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {pk}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, values)
        (instance.pk,) = cursor.fetchone()
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance
