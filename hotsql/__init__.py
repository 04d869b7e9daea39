"""Cursors for the hottest statements (the verify path's two, the audit log's append), which PostgreSQL then
prepares once per connection.

Django's PostgreSQL cursors bind parameters on the client (the SQL text carries the values), so the
server parses and plans every statement anew. A psycopg cursor with server-side binding sends the same
text each time, and psycopg prepares it after a few executions (its `prepare_threshold`): with persistent
connections (DATABASE_CONN_MAX_AGE) each is planned once per connection. Wrapped by
Django as any cursor is, so errors, query logging and tests see them as usual. Elsewhere (SQLite) this
is Django's own cursor.
"""

from django.db import DEFAULT_DB_ALIAS, connections


def hot_cursor():
    db = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` goes through a thread-local proxy
    if db.vendor != "postgresql":
        return db.cursor()
    import psycopg  # here, not above: SQLite deployments need not have it installed

    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        cursor = psycopg.Cursor(db.connection)
    return db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)
