"""The French catalogue: complete, faithful to its placeholders, compiled, and in use.

When one of these tests fails after you added or changed a user-visible string:
run `make messages`, translate the new entries of src/ronron/locale/fr/LC_MESSAGES/django.po
(and remove their `#, fuzzy` flag), then run `make messages` again (it compiles the .mo
files), and commit both.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import polib
import pytest
from django.core.management import call_command
from django.urls import reverse

import ronron
from ronron.members import actions
from tests.core.helpers import make_member

SOURCE = Path(ronron.__file__).resolve().parent
LOCALE = SOURCE / "locale"
FR_PO = LOCALE / "fr" / "LC_MESSAGES" / "django.po"
HOW_TO_FIX = (
    "Run `make messages`, translate the new entries in "
    "src/ronron/locale/fr/LC_MESSAGES/django.po (and drop their `#, fuzzy` flag), "
    "then run `make messages` again: it compiles the .mo files."
)

# %(name)s, %(seconds).1f, %s, %d… and {name}; "%%" is a literal percent sign, not a placeholder.
PERCENT = re.compile(r"%(?:\([^)]*\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
BRACES = re.compile(r"\{[^{}]*\}")


def placeholders(text: str) -> Counter[str]:
    found = [p for p in PERCENT.findall(text) if p != "%%"]
    return Counter(found + BRACES.findall(text))


def live_entries(po: polib.POFile) -> list[polib.POEntry]:
    return [entry for entry in po if not entry.obsolete]


def filled(entry: polib.POEntry) -> bool:
    if entry.msgid_plural:
        return all(entry.msgstr_plural.values())
    return bool(entry.msgstr)


def describe(entry: polib.POEntry) -> str:
    where = ", ".join(f"{path}:{line}" for path, line in entry.occurrences[:3])
    return f"{entry.msgid!r} ({where})"


@pytest.fixture(scope="module")
def french() -> polib.POFile:
    return polib.pofile(str(FR_PO))


def test_french_catalogue_header(french):
    assert french.metadata["Language"] == "fr"
    assert french.metadata["Plural-Forms"] == "nplurals=2; plural=(n > 1);"
    assert "charset=UTF-8" in french.metadata["Content-Type"]
    assert not french.metadata_is_fuzzy


def test_every_french_entry_is_translated_and_not_fuzzy(french):
    untranslated = [describe(e) for e in live_entries(french) if not filled(e)]
    fuzzy = [describe(e) for e in live_entries(french) if "fuzzy" in e.flags]
    assert not untranslated, f"Untranslated French strings: {untranslated}. {HOW_TO_FIX}"
    assert not fuzzy, f"Fuzzy French strings (check, then drop the flag): {fuzzy}. {HOW_TO_FIX}"


def test_french_translations_keep_their_placeholders(french):
    wrong = []
    for entry in live_entries(french):
        if entry.msgid_plural:
            expected = placeholders(entry.msgid_plural)
            forms = [entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural)]
        else:
            expected = placeholders(entry.msgid)
            forms = [entry.msgstr]
        for form in forms:
            if form and placeholders(form) != expected:
                wrong.append(f"{describe(entry)} → {form!r}")
    assert not wrong, "These translations lose or add a placeholder:\n" + "\n".join(wrong)


def catalogue_map(entries) -> dict[tuple[str | None, str], object]:
    mapping: dict[tuple[str | None, str], object] = {}
    for entry in entries:
        if not entry.msgid or entry.obsolete or "fuzzy" in entry.flags:
            continue
        if entry.msgid_plural:
            forms = tuple(entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural))
            if any(forms):
                mapping[(entry.msgctxt, entry.msgid)] = (entry.msgid_plural, forms)
        elif entry.msgstr:
            mapping[(entry.msgctxt, entry.msgid)] = entry.msgstr
    return mapping


@pytest.mark.parametrize("language", ["fr", "en"])
def test_compiled_catalogues_match_their_sources(language):
    folder = LOCALE / language / "LC_MESSAGES"
    mo_path = folder / "django.mo"
    assert mo_path.exists(), f"{mo_path} is missing: run `make messages` to compile the catalogues."
    po = polib.pofile(str(folder / "django.po"))
    mo = polib.mofile(str(mo_path))
    assert catalogue_map(mo) == catalogue_map(po), (
        f"{mo_path} is older than its django.po: run `make messages` to compile the catalogues."
    )
    assert mo.metadata.get("Plural-Forms") == po.metadata.get("Plural-Forms")


def test_french_catalogue_covers_every_string_of_the_code(tmp_path, settings, monkeypatch):
    # makemessages writes next to the sources it reads: run it on a copy, never on the tree.
    copy = tmp_path / "ronron"
    shutil.copytree(
        SOURCE, copy, ignore=shutil.ignore_patterns("locale", "var", "__pycache__", "*.pyc", "*.mo")
    )
    (copy / "locale").mkdir()
    settings.LOCALE_PATHS = [str(copy / "locale")]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["fr"], ignore_patterns=["*/migrations/*"], verbosity=0)
    found = polib.pofile(str(copy / "locale" / "fr" / "LC_MESSAGES" / "django.po"))
    committed = {
        (e.msgctxt, e.msgid, e.msgid_plural or None): e
        for e in live_entries(polib.pofile(str(FR_PO)))
        if e.translated() and "fuzzy" not in e.flags
    }
    missing = [
        describe(e)
        for e in live_entries(found)
        if (e.msgctxt, e.msgid, e.msgid_plural or None) not in committed
    ]
    assert len(live_entries(found)) > 100, "makemessages found almost nothing: is it broken?"
    assert not missing, (
        f"{len(missing)} string(s) of the code have no French translation:\n"
        + "\n".join(missing)
        + f"\n{HOW_TO_FIX}"
    )


@pytest.fixture
def in_french(settings):
    settings.LANGUAGE_CODE = "fr"


def test_login_page_speaks_french(client, in_french):
    page = client.get(reverse("core:login")).content.decode()
    assert 'lang="fr"' in page
    assert "Se connecter" in page
    assert "Log in" not in page


def test_member_list_speaks_french(client, in_french, staff_user):
    make_member(actor=staff_user, number="A0202", name="Les Amis du Vélo")
    client.force_login(staff_user)
    page = client.get(reverse("members:list")).content.decode()
    for words in ("Membres", "Rechercher", "Thématique", "Cotisations", "Se déconnecter"):
        assert words in page, words
    assert "Les Amis du Vélo" in page
    assert "Search" not in page


def test_dates_and_amounts_in_french_formats(client, in_french, staff_user):
    member = make_member(actor=staff_user, number="A0202", joined_on=date(2020, 3, 1))
    year = date.today().year
    actions.call_dues(member, actor=staff_user, year=year, amount=Decimal("30"))
    other = make_member(actor=staff_user, number="A0203", name="Radio Ronron")
    actions.call_dues(other, actor=staff_user, year=year, amount=Decimal("1234.5"))
    client.force_login(staff_user)

    detail = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "1 mars 2020" in detail
    assert "30,00\u00a0€" in detail

    dues = client.get(reverse("members:dues"), {"year": year}).content.decode()
    assert f"Cotisations {year}" in dues
    assert "1\u00a0234,50\u00a0€" in dues
    assert "1\u00a0264,50\u00a0€" in dues  # the total called for the year
