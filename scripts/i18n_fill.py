"""Fill message catalogs after `make messages`.

- locale/en: English is the source language, so every msgstr is its msgid.
- locale/id: translations come from a JSON file {"English msgid": "Indonesian msgstr", ...}
  (plural entries: {"msgid": ["singular", "plural"]}; an entry with a pgettext context is keyed
  "context\u0004msgid", as gettext itself keys them); entries without one are listed, and a
  guess makemessages marked fuzzy stays fuzzy (so untranslated) until the JSON confirms it.

    python scripts/i18n_fill.py [translations.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def fill_english() -> None:
    for path in (ROOT / "locale" / "en" / "LC_MESSAGES").glob("*.po"):
        po = polib.pofile(str(path))
        for entry in po:
            if entry.msgid_plural:
                entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
            else:
                entry.msgstr = entry.msgid
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
        po.save()
        po.save_as_mofile(str(path.with_suffix(".mo")))


def fill_indonesian(translations: dict[str, object]) -> list[str]:
    missing: list[str] = []
    for path in (ROOT / "locale" / "id" / "LC_MESSAGES").glob("*.po"):
        po = polib.pofile(str(path))
        for entry in po:
            if entry.obsolete:
                continue
            key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
            found = translations.get(key)
            if isinstance(found, list) and entry.msgid_plural:
                entry.msgstr_plural = {0: found[0]}  # Indonesian has one plural form
            elif isinstance(found, str) and not entry.msgid_plural:
                entry.msgstr = found
            if found is not None and "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
            if not entry.translated() or "fuzzy" in entry.flags:
                missing.append(entry.msgid)
        po.metadata["Project-Id-Version"] = "Paraf"
        po.metadata["Language-Team"] = "Paraf <paraf@localhost>"
        po.metadata["Last-Translator"] = "Paraf <paraf@localhost>"
        po.metadata["PO-Revision-Date"] = po.metadata.get("POT-Creation-Date", "")
        po.metadata["Language"] = "id"
        po.metadata["Plural-Forms"] = "nplurals=1; plural=0;"
        po.metadata["Content-Type"] = "text/plain; charset=UTF-8"
        po.save()
        po.save_as_mofile(str(path.with_suffix(".mo")))
    return missing


def main() -> int:
    translations: dict[str, object] = {}
    if len(sys.argv) > 1:
        translations = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    fill_english()
    missing = fill_indonesian(translations)
    for msgid in missing:
        print(f"untranslated (id): {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
