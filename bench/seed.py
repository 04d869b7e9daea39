"""Data for `make bench`, run inside the stack's environment (production settings, the bench's PostgreSQL).

    python bench/seed.py cast --consents 50        # real consents through consent.builders; prints JSON
    python bench/seed.py grow --consents 1000000 --presentations 10000000

`cast` makes the organisation, its API key and real consents (each with its signed token, audit events,
status-list slot) through the same builders as seed_demo and the tests. `grow` then copies those rows
with PostgreSQL COPY until the tables hold the asked-for number: every copy is a faithful row (same
terms, a fresh id, request, item and public id), so the database has the size and the index depth of a
busy deployment. Presentations are spread over the past 180 days and over all consents.
"""

import argparse
import json
import os
import random
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from consent import services  # noqa: E402
from consent.builders import build_granted_consent, build_operator, build_organization, build_verified_person  # noqa: E402
from consent.models import ApiKey, Consent, ConsentRequest, Presentation, RequestItem  # noqa: E402

CHUNK = 50_000


def cast(consents: int) -> dict:
    organization = build_organization(actor="bench", address="福州 Fuzhou")
    operator = build_operator(actor="bench", organization=organization, username="bench-operator")
    person = build_verified_person(phone="+8613912345678")
    _key, secret = services.api_key_create(
        actor="bench", organization=organization, name="bench", scopes=[ApiKey.Scope.TOKENS_VERIFY]
    )
    tokens = []
    for i in range(consents):
        consent = build_granted_consent(
            person=person, actor=operator, organization=organization, end_user_reference=f"bench-{i}"
        )
        tokens.append(consent.token.value)
    return {"organization": organization.pk, "api_key": secret, "tokens": tokens, "operator": operator.pk}


def _template(cursor, table: str, row_id: int) -> tuple[list[str], list[str | None]]:
    cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [row_id])  # noqa: S608 (our own table names)
    columns = [column.name for column in cursor.description]
    casts = ", ".join(f'"{name}"::text' for name in columns)
    cursor.execute(f"SELECT {casts} FROM {table} WHERE id = %s", [row_id])  # noqa: S608
    return columns, list(cursor.fetchone())


def _next_id(cursor, table: str) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
    return cursor.fetchone()[0]


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    names = ", ".join(f'"{name}"' for name in columns)
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _reset_sequence(cursor, table: str) -> None:
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")  # noqa: S608


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname "
        "JOIN pg_index x ON x.indexrelid = c.oid WHERE i.tablename = %s AND NOT x.indisprimary "
        "AND NOT x.indisunique",
        [table],
    )
    return cursor.fetchall()


def grow(consents: int, presentations: int) -> dict:
    """Copy the cast's rows until there are `consents` consents and `presentations` presentations."""
    started = time.monotonic()
    template = Consent.objects.select_related("item__request").order_by("id").first()
    have = Consent.objects.count()
    add = max(0, consents - have)
    with connection.cursor() as cursor, transaction.atomic():
        # The copies are consistent by construction (fresh ids, references to rows copied just before);
        # checking each of 10^7 foreign keys row by row would take longer than the whole benchmark.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL synchronous_commit = off")
        tables = {model: model._meta.db_table for model in (ConsentRequest, RequestItem, Consent, Presentation)}
        req_cols, req_row = _template(cursor, tables[ConsentRequest], template.item.request_id)
        item_cols, item_row = _template(cursor, tables[RequestItem], template.item_id)
        con_cols, con_row = _template(cursor, tables[Consent], template.pk)
        first_req, first_item, first_con = (_next_id(cursor, tables[m]) for m in (ConsentRequest, RequestItem, Consent))

        def requests():
            row = list(req_row)
            at_id, at_code = req_cols.index("id"), req_cols.index("code")
            for i in range(add):
                row[at_id] = str(first_req + i)
                row[at_code] = f"bench{first_req + i:012d}"
                yield row

        def items():
            row = list(item_row)
            at_id, at_req = item_cols.index("id"), item_cols.index("request_id")
            for i in range(add):
                row[at_id] = str(first_item + i)
                row[at_req] = str(first_req + i)
                yield row

        def consent_rows():
            row = list(con_row)
            at_id, at_item, at_pub = con_cols.index("id"), con_cols.index("item_id"), con_cols.index("public_id")
            base = uuid.uuid4().int >> 64 << 64
            for i in range(add):
                row[at_id] = str(first_con + i)
                row[at_item] = str(first_item + i)
                row[at_pub] = str(uuid.UUID(int=base | i))
                yield row

        _copy(cursor, tables[ConsentRequest], req_cols, requests())
        _copy(cursor, tables[RequestItem], item_cols, items())
        _copy(cursor, tables[Consent], con_cols, consent_rows())
        for model in (ConsentRequest, RequestItem, Consent):
            _reset_sequence(cursor, tables[model])
        consents_done = time.monotonic()

        table = tables[Presentation]
        have_p = Presentation.objects.count()
        add_p = max(0, presentations - have_p)
        if add_p:
            pres_cols = [
                "id",
                "consent_id",
                "api_key_id",
                "organization_id",
                "modality",
                "operation",
                "media_sha256",
                "result",
                "reason",
                "client_ip",
                "created_at",
            ]
            key = ApiKey.objects.filter(organization_id=template.organization_id).order_by("id").first()
            consent_ids = list(Consent.objects.values_list("id", flat=True)) + list(range(first_con, first_con + add))
            first_p = _next_id(cursor, table)
            now = timezone.now()
            # A few thousand distinct timestamps reused: formatting 10^7 datetimes would dominate the copy.
            stamps = [(now - timedelta(seconds=random.randrange(180 * 86400))).isoformat() for _ in range(4096)]
            dropped = _secondary_indexes(cursor, table)
            for name, _definition in dropped:
                cursor.execute(f'DROP INDEX "{name}"')
            rnd = random.Random(15)

            def presentation_rows():
                org, api = str(template.organization_id), str(key.pk)
                pick, n = consent_ids.__getitem__, len(consent_ids)
                for i in range(add_p):
                    yield (
                        first_p + i,
                        pick(rnd.randrange(n)),
                        api,
                        org,
                        "face",
                        "face_swap",
                        "",
                        "active",
                        "",
                        "127.0.0.1",
                        stamps[i & 4095],
                    )

            _copy(cursor, table, pres_cols, presentation_rows())
            for _name, definition in dropped:
                cursor.execute(definition)
            _reset_sequence(cursor, table)
    with connection.cursor() as cursor:
        for model in (ConsentRequest, RequestItem, Consent, Presentation):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return {
        "consents": Consent.objects.count(),
        "presentations": Presentation.objects.count(),
        "consents_copy_s": round(consents_done - started, 1),
        "total_s": round(time.monotonic() - started, 1),
    }


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("cast").add_argument("--consents", type=int, default=50)
    g = sub.add_parser("grow")
    g.add_argument("--consents", type=int, required=True)
    g.add_argument("--presentations", type=int, required=True)
    args = parser.parse_args()
    result = cast(args.consents) if args.command == "cast" else grow(args.consents, args.presentations)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
