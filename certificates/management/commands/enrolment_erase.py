"""Erase one person's identity data (UU PDP): files deleted, registration fields blanked, the
enrolment cancelled if unfinished. History and consent records (no identity data) remain.

    python manage.py enrolment_erase person@example.com --yes --actor staff@example.com
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from certificates.models import Enrolment
from certificates.services import EnrolmentError, enrolment_erase


class Command(BaseCommand):
    help = "Erase one person's identity data held by Paraf (keeps the history as evidence)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--actor", default="", help="E-mail of the staff member asking (recorded).")
        parser.add_argument("--yes", action="store_true", help="Confirm: this cannot be undone.")

    def handle(self, *args: Any, **options: Any) -> None:
        enrolment = Enrolment.objects.filter(email__iexact=options["email"].strip()).first()
        if enrolment is None:
            raise CommandError("No enrolment for this e-mail address.")
        if not options["yes"]:
            raise CommandError("Add --yes to erase; this cannot be undone.")
        actor = None
        if options["actor"]:
            actor = User.objects.filter(email__iexact=options["actor"].strip()).first()
            if actor is None:
                raise CommandError("No user with the --actor e-mail address.")
        try:
            enrolment_erase(enrolment=enrolment, actor=actor)
        except EnrolmentError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Identity data of enrolment {enrolment.pk} erased.")
