"""The sandbox stands for Peruri: it never reaches into Paraf, nor uses Paraf's Peruri client."""

from __future__ import annotations

import ast
from pathlib import Path

from django.apps import apps
from django.conf import settings

SANDBOX = Path(settings.BASE_DIR) / "sandbox"
PARAF = {"accounts", "certificates", "documents", "signing", "peruri", "config", "tests"}


def _imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):  # nested (function-level) imports too
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_no_sandbox_module_imports_paraf_or_the_peruri_client() -> None:
    offenders = {
        f"{path.relative_to(SANDBOX.parent)}: {module}"
        for path in SANDBOX.rglob("*.py")
        for module in _imported_modules(path.read_text())
        if module.split(".")[0] in PARAF
    }
    assert not offenders
    assert "import_module" not in "".join(p.read_text() for p in SANDBOX.rglob("*.py"))


def test_the_sandbox_tables_refer_only_to_each_other() -> None:
    for model in apps.get_app_config("sandbox").get_models():
        assert model._meta.db_table.startswith("sandbox_")
        for field in model._meta.get_fields():
            if field.is_relation and field.related_model is not None:
                assert field.related_model._meta.app_label == "sandbox", f"{model.__name__}.{field.name}"
