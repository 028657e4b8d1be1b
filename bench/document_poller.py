"""The status poller with 10,000 pending documents: memory, throughput, and no document polled more
often than its schedule.

    [DATABASE_URL=postgres://...] .venv/bin/python bench/document_poller.py [--documents 10000] [--hours 2] [--beat 30]

Fills a throw-away database with N documents waiting for their signer, all due, plus 2×N finished
ones the partial index must skip. Then it runs the real dispatcher (documents.services
.document_poll_due, what the beat calls every 5 s) and the real per-row task body
(documents.services.document_poll) on a simulated clock, with a fake Peruri that answers
WAITING_SIGNATURE and records when each order was checked. Celery is replaced by an in-process
queue (the dispatcher's delay_on_commit appends the id; a "worker" loop drains it).

Prints: dispatcher time and peak Python memory (tracemalloc) for the first pass; per-row poll
throughput; over the simulated hours, checks per document and the smallest gap between two checks
of one document compared with its schedule (DOCUMENT_POLL_AWAITING_FIRST, doubling).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import uuid
from collections import defaultdict
from datetime import timedelta
from unittest import mock

from _django import django_test_db


class Clock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--beat", type=int, default=30, help="simulated seconds between dispatcher runs")
    args = parser.parse_args()

    with django_test_db("poller") as settings:
        from django.db import connection
        from django.utils import timezone

        from documents import services, tasks
        from documents.models import Document
        from peruri import DocumentStatus
        from tests.factories import SignerFactory, StaffFactory

        start = timezone.now()
        staff, signer = StaffFactory(), SignerFactory()
        rows = []
        for n in range(args.documents * 3):
            pending = n < args.documents
            rows.append(
                Document(
                    public_id=uuid.uuid4(),
                    title=f"Dokumen {n}",
                    file_name=f"dokumen-{n}.pdf",
                    original=f"documents/{n}/original.pdf",
                    sha256="0" * 64,
                    size_bytes=1,
                    page_count=1,
                    created_by=staff,
                    signer=signer,
                    status=Document.Status.AWAITING_SIGNATURE if pending else Document.Status.SIGNED,
                    signed_sha256="" if pending else "1" * 64,
                    peruri_order_id=str(n + 1),
                    next_poll_at=start - timedelta(seconds=n % 600) if pending else None,
                )
            )
        Document.objects.bulk_create(rows, batch_size=5000)
        del rows
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE documents_document")
        print(
            f"{args.documents} documents waiting (all due) + {2 * args.documents} finished, "
            f"on {connection.vendor}; batch {settings.DOCUMENT_POLL_BATCH}, cap {settings.DOCUMENT_POLL_MAX_PER_RUN}/run"
        )

        clock = Clock(start)
        checks: dict[str, list] = defaultdict(list)

        class FakePeruri:
            def check_document_status(self, *, order_id):
                checks[order_id].append(clock.now)
                return DocumentStatus(order_id=order_id, status="WAITING_SIGNATURE", description="Success")

        queue: list[int] = []
        fake = FakePeruri()
        with (
            mock.patch("django.utils.timezone.now", clock),
            mock.patch.object(services, "_client", lambda: fake),
            mock.patch.object(tasks.document_poll, "delay_on_commit", queue.append),
        ):
            # 1. The first pass: every pending row is due at once.
            tracemalloc.start()
            t = time.perf_counter()
            dispatched = 0
            runs = 0
            while True:
                n = services.document_poll_due()
                runs += 1
                dispatched += n
                if n == 0:
                    break
            elapsed = time.perf_counter() - t
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"dispatcher: {dispatched} rows dispatched in {runs - 1} run(s) + 1 empty run, {elapsed:.2f} s; "
                f"peak Python memory {peak / 1024:.0f} KiB (≈{peak / max(dispatched, 1):.0f} B per dispatched row, "
                f"the queued ids included)"
            )
            assert dispatched == args.documents and len(set(queue)) == args.documents

            t = time.perf_counter()
            polled = 0
            while queue:
                services.document_poll(document_id=queue.pop())
                polled += 1
            elapsed = time.perf_counter() - t
            print(f"worker: {polled} polls (claim → status check → reschedule) in {elapsed:.1f} s, {polled / elapsed:.0f}/s on one process")

            # 2. Simulated time: the beat every --beat seconds, a worker draining the queue.
            t = time.perf_counter()
            beats = int(args.hours * 3600 / args.beat)
            empty = 0
            for _ in range(beats):
                clock.now += timedelta(seconds=args.beat)
                if services.document_poll_due() == 0:
                    empty += 1
                while queue:
                    services.document_poll(document_id=queue.pop())
            elapsed = time.perf_counter() - t

        first = settings.DOCUMENT_POLL_AWAITING_FIRST
        cap = settings.DOCUMENT_POLL_AWAITING_MAX
        counts = [len(v) for v in checks.values()]
        worst = 1e9
        for stamps in checks.values():
            for k in range(1, len(stamps)):
                gap = (stamps[k] - stamps[k - 1]).total_seconds()
                scheduled = min(cap, first * 2 ** (k - 1))
                worst = min(worst, gap / scheduled)
        total = sum(counts)
        print(
            f"simulated {args.hours:g} h, beat every {args.beat} s ({beats} runs, {empty} found nothing due) in {elapsed:.1f} s: "
            f"{total} status checks, per document min {min(counts)} / max {max(counts)}"
        )
        print(
            f"schedule: first check after {first} s, doubling up to {cap} s (±10% jitter); "
            f"smallest gap between two checks of one document = {worst:.2f} × its scheduled interval"
        )
        ok = worst >= 0.9 and len(checks) == args.documents
        print("RESULT:", "PASS" if ok else "FAIL", "(never polled more often than its schedule)" if ok else "")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
