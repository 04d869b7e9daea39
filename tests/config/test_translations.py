"""The Chinese catalogue is complete: every string the code and templates mark is translated, none fuzzy.

zh-Hans is the default language, so a missing entry shows an English sentence in a Chinese page, and a
fuzzy one (gettext's "probably wrong" guess) is not used at all by Django: both are bugs people see.
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, subprocess_env

CATALOGUE = REPO / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
# What makemessages must not read: not shipped (tests, benchmarks, the client library) or not ours.
NOT_SOURCE = {".venv", ".git", "var", "tests", "bench", "clients", "test-output", "node_modules", "locale"}


def read_po(path: Path) -> dict[tuple[str, str], dict]:
    """{(msgctxt, msgid): {"msgstr": [...], "fuzzy": bool}}; obsolete (#~) entries are ignored."""
    entries, entry, field = {}, None, None

    def close():
        if entry is not None and "msgid" in entry:
            key = (entry.get("msgctxt", ""), entry["msgid"])
            if key != ("", ""):  # the header
                entries[key] = {"msgstr": entry["msgstr"], "fuzzy": entry["fuzzy"]}

    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip() or line.startswith("#~"):
            close()
            entry, field = None, None
            continue
        if entry is None:
            entry = {"fuzzy": False, "msgstr": []}
        if line.startswith("#,"):
            entry["fuzzy"] = entry["fuzzy"] or "fuzzy" in line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if field == "msgstr":
                entry["msgstr"][-1] += value
            else:
                entry[field] += value
        else:
            keyword, _, value = line.partition(" ")
            value = ast.literal_eval(value)
            if keyword.startswith("msgstr"):
                field = "msgstr"
                entry["msgstr"].append(value)
            else:
                field = keyword
                entry[field] = value
    return entries


def label(key: tuple[str, str]) -> str:
    context, msgid = key
    return f"[{context}] {msgid!r}" if context else repr(msgid)


def test_every_catalogue_entry_is_translated_and_none_is_fuzzy():
    entries = read_po(CATALOGUE)
    untranslated = [label(k) for k, e in entries.items() if not all(s.strip() for s in e["msgstr"])]
    fuzzy = [label(k) for k, e in entries.items() if e["fuzzy"]]
    assert not untranslated, f"{len(untranslated)} untranslated in {CATALOGUE.name}:\n" + "\n".join(untranslated)
    assert not fuzzy, f"{len(fuzzy)} fuzzy (Django ignores them) in {CATALOGUE.name}:\n" + "\n".join(fuzzy)


@pytest.fixture(scope="module")
def strings_in_use(tmp_path_factory) -> set[tuple[str, str]]:
    """Every msgid the code and templates mark today, as makemessages collects it, from a copy of the sources.

    makemessages writes into the project's locale folder; run on a copy, it cannot touch the real catalogue.
    """
    if not shutil.which("xgettext"):
        pytest.skip("gettext is missing (make installs it): cannot collect the strings in use")
    copy = tmp_path_factory.mktemp("sources") / "repo"
    shutil.copytree(
        REPO, copy, ignore=lambda folder, names: [n for n in names if n in NOT_SOURCE or n == "__pycache__"]
    )
    (copy / "locale").mkdir()
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-location", "--no-obsolete"],
        cwd=copy,
        env=subprocess_env(),
        check=True,
        capture_output=True,
    )
    return set(read_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))


@pytest.mark.slow  # makemessages over a copy of the whole checkout
def test_every_string_marked_in_code_and_templates_is_in_the_catalogue(strings_in_use):
    missing = sorted(strings_in_use - set(read_po(CATALOGUE)))
    assert not missing, (
        f"{len(missing)} marked strings are not in {CATALOGUE.name}; run `manage.py makemessages -l zh_Hans "
        "--ignore .venv --ignore var --ignore tests --no-obsolete` and translate them:\n"
        + "\n".join(label(k) for k in missing)
    )


def test_the_catalogue_reader_sees_untranslated_fuzzy_and_plural_entries(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n\n'
        'msgid "Done"\nmsgstr "完成"\n\n'
        'msgid "Open"\nmsgstr ""\n\n'
        '#, fuzzy, python-format\nmsgid "%(n)s left"\nmsgstr "剩余 %(n)s"\n\n'
        'msgctxt "list separator"\nmsgid ", "\nmsgstr "、"\n\n'
        'msgid "one day"\nmsgid_plural "%(n)s days"\nmsgstr[0] ""\n"%(n)s 天"\n\n'
        '#~ msgid "Gone"\n#~ msgstr ""\n',
        encoding="utf-8",
    )
    entries = read_po(po)
    assert set(entries) == {("", "Done"), ("", "Open"), ("", "%(n)s left"), ("list separator", ", "), ("", "one day")}
    assert entries[("", "Open")]["msgstr"] == [""]
    assert entries[("", "%(n)s left")]["fuzzy"] is True
    assert entries[("list separator", ", ")]["msgstr"] == ["、"]
    assert entries[("", "one day")]["msgstr"] == ["%(n)s 天"]
