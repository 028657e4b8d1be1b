"""Latency of the staff document list with 100,000 documents in PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/document_list.py [--documents 100000] [--requests 200]

Fills a throw-away database (bench_list) with documents for 500 signers, then requests the staff
list page in-process through Django's test client (whole request: middleware, session, the
queries, template) and prints p50/p95 over N requests for: the first page, random pages, a status
filter, and a search by signer. It also prints the number of SQL queries per request (constant:
no N+1).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import timedelta

from _django import describe, django_test_db


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("Set DATABASE_URL to a PostgreSQL server (the figure is meant for PostgreSQL).", file=sys.stderr)
        return 2

    with django_test_db("list"):
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from documents.models import Document
        from tests.factories import SignerFactory, StaffFactory

        rng = random.Random(6)  # noqa: S311
        staff = StaffFactory(email="bench.staff@example.com")
        signers = [SignerFactory(email=f"signer{n:03d}@example.com", full_name=f"Penanda Tangan {n:03d}") for n in range(500)]
        statuses = (
            [Document.Status.SIGNED] * 70
            + [Document.Status.AWAITING_SIGNATURE] * 15
            + [Document.Status.DRAFT] * 8
            + [Document.Status.FAILED] * 3
            + [Document.Status.NEEDS_RECONCILIATION] * 2
            + [Document.Status.CANCELLED] * 2
        )
        started = time.perf_counter()
        now = timezone.now()
        batch = []
        for n in range(args.documents):
            status = rng.choice(statuses)
            sent = status != Document.Status.DRAFT
            batch.append(
                Document(
                    public_id=uuid.uuid4(),
                    title=f"Perjanjian kerja sama {n}",
                    file_name=f"perjanjian-{n}.pdf",
                    original=f"documents/{n}/original.pdf",
                    sha256="0" * 64,
                    size_bytes=120_000,
                    page_count=3,
                    pages=[{"width": 595, "height": 842, "rotate": 0, "crop": [0, 0, 595, 842]}] * 3,
                    created_by=staff,
                    created_at=now - timedelta(minutes=args.documents - n),
                    signer=signers[n % len(signers)],
                    status=status,
                    peruri_order_id=str(100_000 + n) if sent else None,
                    signed_sha256="1" * 64 if status == Document.Status.SIGNED else "",
                    next_poll_at=now + timedelta(minutes=10) if status == Document.Status.AWAITING_SIGNATURE else None,
                )
            )
            if len(batch) == 5000:
                Document.objects.bulk_create(batch)
                batch = []
        if batch:
            Document.objects.bulk_create(batch)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"{Document.objects.count()} documents inserted in {time.perf_counter() - started:.1f} s (PostgreSQL {connection.pg_version})")

        client = Client()
        client.force_login(staff)
        pages = Document.objects.count() // 25

        def run(label: str, params_for) -> None:
            client.get("/dokumen/", params_for(0))  # warm up
            timings = []
            queries = set()
            for i in range(args.requests):
                with CaptureQueriesContext(connection) as ctx:
                    t = time.perf_counter()
                    response = client.get("/dokumen/", params_for(i))
                    timings.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200
                queries.add(len(ctx.captured_queries))
            print(f"{label:<38} {describe(timings)} · queries/request {sorted(queries)}")
            if os.environ.get("BENCH_EXPLAIN"):
                with CaptureQueriesContext(connection) as ctx:
                    client.get("/dokumen/", params_for(1))
                for q in ctx.captured_queries:
                    print(f"    {q['time']}s  {q['sql'][:160]}")
                    if "documents_document" in q["sql"]:
                        with connection.cursor() as cursor:
                            cursor.execute("EXPLAIN ANALYZE " + q["sql"])
                            for (line,) in cursor.fetchall():
                                print("        " + line)

        print(f"Staff list (/dokumen/), {args.requests} requests each:")
        run("first page", lambda i: {})
        run(f"random page (1..{pages})", lambda i: {"page": rng.randint(1, pages)})
        run("status filter (awaiting), random page", lambda i: {"status": "awaiting_signature", "page": rng.randint(1, 500)})
        run("search by signer e-mail", lambda i: {"q": f"signer{rng.randint(0, 499):03d}@"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
