"""The English catalogue is complete and its compiled .mo matches the .po."""

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest

import towngrid

LOCALE = Path(towngrid.__file__).parent / "locale" / "en" / "LC_MESSAGES"


def _entries(po: str) -> list[tuple[str, list[str]]]:
    """(msgid, [msgstr …]) for every active entry of a .po file."""
    entries, key, msgid, strs = [], None, None, []

    def unq(line: str) -> str:
        return (
            line[line.index('"') + 1 : line.rindex('"')]
            .encode()
            .decode("unicode_escape")
            .encode("latin-1")
            .decode()
        )

    for line in [*po.splitlines(), ""]:
        if line.startswith("msgid "):
            if msgid is not None:
                entries.append((msgid, strs))
            key, msgid, strs = "id", unq(line), []
        elif line.startswith("msgid_plural "):
            key = "plural"
        elif line.startswith("msgstr"):
            key = "str"
            strs.append(unq(line))
        elif line.startswith('"') and key == "id":
            msgid += unq(line)
        elif line.startswith('"') and key == "str":
            strs[-1] += unq(line)
    if msgid is not None:
        entries.append((msgid, strs))
    return [(i, s) for i, s in entries if i]


def test_every_message_has_an_english_translation():
    entries = _entries((LOCALE / "django.po").read_text(encoding="utf-8"))
    assert len(entries) > 100
    untranslated = [msgid for msgid, strs in entries if not all(strs)]
    assert untranslated == [], "translate these in towngrid/locale/en/LC_MESSAGES/django.po"
    assert "#, fuzzy" not in (LOCALE / "django.po").read_text(encoding="utf-8").split("msgid", 2)[2]


def test_compiled_catalogue_matches_po(tmp_path):
    if not shutil.which("msgfmt"):
        pytest.skip("msgfmt (gettext) is not installed")
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(LOCALE / "django.po")], check=True)
    with fresh.open("rb") as a, (LOCALE / "django.mo").open("rb") as b:
        assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog, (
            "django.mo is stale: run `towngrid compilemessages`"
        )
