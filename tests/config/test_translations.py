"""Both message catalogs are complete: every string in the code has an Indonesian and an English entry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
LANGS = ("id", "en")
DOMAINS = ("django", "djangojs")
SKIP = {".venv", "var", "node_modules", ".git", "static", ".pytest_cache", ".mypy_cache", ".ruff_cache", "tests"}


def _catalog(lang: str, domain: str) -> Path:
    return ROOT / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"


@pytest.mark.parametrize("lang", LANGS)
def test_every_catalog_entry_is_translated_and_compiled(lang):
    for domain in DOMAINS:
        po_path = _catalog(lang, domain)
        if domain == "djangojs" and not po_path.exists():
            continue
        po = polib.pofile(str(po_path))
        untranslated = [e.msgid for e in po if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]
        assert untranslated == [], f"{lang}/{domain}: untranslated {untranslated[:10]}"
        mo = polib.mofile(str(po_path.with_suffix(".mo")))
        compiled = {(e.msgctxt, e.msgid): e.msgstr for e in mo}
        stale = [e.msgid for e in po.translated_entries() if compiled.get((e.msgctxt, e.msgid)) != e.msgstr]
        assert stale == [], f"{lang}/{domain}: .mo is out of date (make messages): {stale[:5]}"


def test_the_catalogs_hold_every_string_in_the_code(tmp_path):
    """Run makemessages on a copy of the code: it must find no string the catalogs lack."""
    if not shutil.which("xgettext"):
        if os.environ.get("CI"):
            pytest.fail("GNU gettext (xgettext) is needed to check the catalogs")
        pytest.skip("GNU gettext is not installed")
    copy = tmp_path / "src"
    shutil.copytree(ROOT, copy, ignore=lambda d, names: [n for n in names if n in SKIP and Path(d) == ROOT])
    shutil.copytree(ROOT / "static", copy / "static", ignore=shutil.ignore_patterns("vendor"))
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.test")
    for domain in DOMAINS:
        subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "makemessages", "-d", domain, *[f"-l{lang}" for lang in LANGS], "--no-obsolete"],
            cwd=copy, env=env, check=True, capture_output=True, timeout=300,
        )
    for lang in LANGS:
        for domain in DOMAINS:
            fresh_path = copy / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"
            if not fresh_path.exists():
                continue
            fresh = {(e.msgctxt, e.msgid) for e in polib.pofile(str(fresh_path))}
            ours_path = _catalog(lang, domain)
            ours = {(e.msgctxt, e.msgid) for e in polib.pofile(str(ours_path)) if e.translated()} if ours_path.exists() else set()
            missing = sorted(m for _, m in fresh - ours)
            assert missing == [], f"{lang}/{domain}: strings without a translation: {missing[:10]}"
