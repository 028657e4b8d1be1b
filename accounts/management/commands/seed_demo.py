"""Create the demo administrator and partner-staff accounts, printing their passwords once."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand

from accounts.models import User

DEMO_ACCOUNTS = (
    ("admin@paraf.local", "Admin Paraf", User.Role.ADMIN, True),
    ("staf@paraf.local", "Staf Mitra", User.Role.STAFF, False),
)


class Command(BaseCommand):
    help = "Create demo accounts (an administrator and a partner-staff user) if they do not exist."

    def handle(self, *args: Any, **options: Any) -> None:
        for email, name, role, is_admin in DEMO_ACCOUNTS:
            if User.objects.filter(email=email).exists():
                self.stdout.write(f"{email}: already exists (password unchanged)")
                continue
            password = secrets.token_urlsafe(12)
            if is_admin:
                User.objects.create_superuser(email=email, password=password, full_name=name)
            else:
                User.objects.create_user(email=email, password=password, full_name=name, role=role)
            self.stdout.write(self.style.SUCCESS(f"{email}: created, password {password}  (shown once)"))
