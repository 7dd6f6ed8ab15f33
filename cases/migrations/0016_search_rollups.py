# Case search at scale (issue #5): trigram indexes for the staff case list's
# search box, on PostgreSQL only.
#
# Django writes `icontains` on PostgreSQL as UPPER(col::text) LIKE UPPER(%s);
# a GIN index with gin_trgm_ops on that same expression answers it (and
# LIKE '%…%' on any fragment of three or more characters, Chinese included)
# without reading the table. SQLite has no such index and does not need one.
# The indexes are built CONCURRENTLY so that migrating a live database does
# not block writes to the case table, hence a non-atomic migration.

from django.db import migrations

# (index name, indexed expression)
SEARCH_INDEXES = [
    ("case_number_trgm", "UPPER((number)::text)"),
    ("case_tracking_code_trgm", "UPPER((tracking_code)::text)"),
    ("case_title_trgm", "UPPER((title)::text)"),
    ("case_description_trgm", "UPPER(description)"),
    ("case_address_trgm", "UPPER((address)::text)"),
    # The last digits of a phone number (手机尾号): reporter_phone LIKE '%1234'.
    ("case_reporter_phone_trgm", "reporter_phone"),
]


def create_search_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in SEARCH_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} "
            f"ON cases_case USING gin ({expression} gin_trgm_ops)"
        )
    # Statistics of the indexed expressions: without them the planner guesses
    # how many cases a search finds and may walk the whole table in list order
    # (reported_at) looking for 25 matches of a rare number.
    schema_editor.execute("ANALYZE cases_case")


def drop_search_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _expression in SEARCH_INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("cases", "0015_deadline_reminders"),
    ]

    operations = [
        migrations.RunPython(create_search_indexes, drop_search_indexes, elidable=False),
    ]
