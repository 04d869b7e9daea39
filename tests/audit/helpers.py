"""Shared by the audit tests: run audit_verify as an auditor would, and tamper as an attacker with database access."""

import io

from django.core.management import call_command
from django.db import connection, transaction

import audit


def run_verify(*args) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def tamper(sql: str, params=()):
    """Change rows behind the ORM's back (and past the append-only trigger on PostgreSQL)."""
    with transaction.atomic(), connection.cursor() as cursor:  # SET LOCAL needs a transaction
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def record(n: int, **data) -> list:
    return [audit.record("alice", "thing.create", None, {"i": i, **data}) for i in range(n)]


def latest_checkpoint() -> str:
    out = io.StringIO()
    call_command("audit_checkpoint_latest", stdout=out)
    return out.getvalue()
