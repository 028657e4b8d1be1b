"""Export one person's identity data (a subject access request, UU PDP): JSON, decrypted.

python manage.py enrolment_export person@example.com --actor staff@example.com -o export.json
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from certificates.models import Enrolment
from certificates.services import enrolment_export


class Command(BaseCommand):
    help = "Export one person's enrolment and identity data as JSON (the read is recorded)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--actor", default="", help="E-mail of the staff member asking (recorded).")
        parser.add_argument("-o", "--output", default="", help="Write to this file instead of stdout.")
        parser.add_argument("--no-files", action="store_true", help="Leave out photos, video and specimen.")

    def handle(self, *args: Any, **options: Any) -> None:
        enrolment = Enrolment.objects.filter(email__iexact=options["email"].strip()).first()
        if enrolment is None:
            raise CommandError("No enrolment for this e-mail address.")
        actor = None
        if options["actor"]:
            actor = User.objects.filter(email__iexact=options["actor"].strip()).first()
            if actor is None:
                raise CommandError("No user with the --actor e-mail address.")
        data = enrolment_export(enrolment=enrolment, actor=actor, include_files=not options["no_files"])
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(f"Written to {options['output']}")
        else:
            self.stdout.write(text)
