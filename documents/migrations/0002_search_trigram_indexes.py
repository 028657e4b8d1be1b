"""Trigram indexes for the staff list's search (PostgreSQL only; SQLite has no pg_trgm).

`title__icontains` compiles to UPPER("title"::text) LIKE UPPER('%...%'): a GIN trigram index on
that expression lets PostgreSQL answer it without reading every row. pg_trgm is a trusted
extension (PostgreSQL 13+), so the database owner may create it.
"""

from __future__ import annotations

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS document_title_trgm_idx ON documents_document USING gin ((UPPER(title::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS document_file_name_trgm_idx ON documents_document USING gin ((UPPER(file_name::text)) gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS document_title_trgm_idx",
    "DROP INDEX IF EXISTS document_file_name_trgm_idx",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
