"""Claiming rows with ``FOR NO KEY UPDATE SKIP LOCKED``: the one helper behind
the billing and sending claims, so that concurrent workers take different rows."""

import psycopg2

from odoo.tools import SQL


def claim_skip_locked(model, query):
    """Lock for this transaction the rows of ``query`` (an ORM ``Query`` on
    ``model``'s table) that no other transaction holds; return them as records,
    or ``None`` when a row changed since this transaction began (PostgreSQL's
    serialization failure), in which case the caller claims one row at a time."""
    claim = SQL(
        "%s FOR NO KEY UPDATE OF %s SKIP LOCKED",
        query.select(SQL.identifier(model._table, "id")),
        SQL.identifier(model._table),
    )
    model.env.flush_query(claim)
    try:
        with model.env.cr.savepoint(flush=False):
            model.env.cr.execute(claim, log_exceptions=False)
            return model.browse(row[0] for row in model.env.cr.fetchall())
    except psycopg2.errors.SerializationFailure:
        return None
