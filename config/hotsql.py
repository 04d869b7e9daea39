"""Cursors for the hottest statements (the verify path's two, the audit log's append), which PostgreSQL then
prepares once per connection.

Django's PostgreSQL cursors bind parameters on the client (the SQL text carries the values), so the
server parses and plans every statement anew. A psycopg cursor with server-side binding sends the same
text each time, and psycopg prepares it after a few executions (its `prepare_threshold`): with persistent
connections (DATABASE_CONN_MAX_AGE) each is planned once per connection. Wrapped by
Django as any cursor is, so errors, query logging and tests see them as usual. Elsewhere (SQLite) this
is Django's own cursor.
"""

from django.db import connection


def hot_cursor():
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg  # here, not above: SQLite deployments need not have it installed

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor = psycopg.Cursor(connection.connection)
    return connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)
