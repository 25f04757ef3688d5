"""Refresh the translation catalogues after UI strings change.

    .venv/bin/python tools/update_translations.py

Extracts every msgid into translations/messages.pot, merges it into each
locale's messages.po (new strings arrive empty, never as fuzzy guesses), and
fills the English catalogue: msgids are written in English, so English
msgstrs are the msgids themselves.  Other locales must then be translated by
hand; the i18n test fails until they are.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
LOCALES = ("ja", "en", "zh_Hans", "zh_Hant", "ko")


def pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], cwd=ROOT, check=True)


def fill_english(path: Path) -> int:
    with path.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    filled = 0
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            if not all(message.string or ()):
                message.string = tuple(message.id)
                filled += 1
        elif not message.string:
            message.string = message.id
            filled += 1
        message.flags.discard("fuzzy")
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False)
    return filled


def main() -> None:
    pot = TRANSLATIONS / "messages.pot"
    pybabel("extract", "-F", "babel.cfg", "-k", "_l", "--no-location", "--sort-output",
            "--project", "date-community", "--copyright-holder", "date-community contributors",
            "-o", str(pot), ".")
    for locale in LOCALES:
        pybabel("update", "-i", str(pot), "-d", str(TRANSLATIONS), "-l", locale, "--no-fuzzy-matching")
    print(f"English: filled {fill_english(TRANSLATIONS / 'en' / 'LC_MESSAGES' / 'messages.po')} entries")


if __name__ == "__main__":
    main()
