"""`manage.py runsandbox [addr:port]`: serve the Peruri simulator alone, on its own origin."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.runserver import Command as RunserverCommand

from sandbox.wsgi import SandboxWSGIHandler


class Command(RunserverCommand):
    help = "Serve the Peruri sandbox (gateway API, web views, outbox) with its own URLconf."
    default_port = "8001"

    def get_handler(self, *args: Any, **options: Any) -> SandboxWSGIHandler:
        return SandboxWSGIHandler()

    def inner_run(self, *args: Any, **options: Any) -> None:
        from sandbox import startup

        startup.prepare()
        super().inner_run(*args, **options)
