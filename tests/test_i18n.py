"""Message catalogues and locale formatting (dashboard.i18n), and the kiosk's coverage.

Formatted strings are pinned from Babel's CLDR data (Babel 2.18): a Babel upgrade that
changes them shows up here. ``\\xa0`` is a no-break space, ``\\u202f`` a narrow one.
"""
from __future__ import annotations

import ast
import shutil
import tomllib
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po
from babel.util import pathmatch

from dashboard import i18n
from dashboard.i18n import (
    DASH,
    choose_language,
    format_date,
    format_datetime,
    format_duration_days,
    format_number,
    format_percent,
    format_relative,
    format_time,
    gettext_for,
    ngettext_for,
    text_in,
)

ROOT = Path(__file__).resolve().parents[1]
KIOSK_GLOBS = ("layouts/kiosk*.py", "callbacks/kiosk*.py")
TZ = "Europe/Madrid"
WHEN = datetime(2025, 11, 24, 13, 5, tzinfo=timezone.utc)  # a Monday, 14:05 in Madrid


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Every test starts and ends with nothing cached (LOCALES_DIR may be patched)."""
    i18n.clear_caches()
    yield
    i18n.clear_caches()


@pytest.fixture
def locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the real catalogues in a temporary folder that i18n reads instead."""
    root = tmp_path / "locales"
    shutil.copytree(i18n.LOCALES_DIR, root)
    monkeypatch.setattr(i18n, "LOCALES_DIR", root)
    i18n.clear_caches()
    return root


def write_catalogue(root: Path, lang: str, messages: list[tuple]) -> Path:
    """A ``.po`` catalogue of ``(id, string[, fuzzy])`` entries (tuples for plurals)."""
    catalog = Catalog(locale=lang, project="CityLens test")
    for id_, string, *fuzzy in messages:
        if isinstance(string, tuple):  # as many forms as this Babel's CLDR gives the language
            string += (string[-1],) * (catalog.num_plurals - len(string))
        catalog.add(id_, string, flags=("fuzzy",) if fuzzy and fuzzy[0] else ())
    path = root / lang / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog)
    return path


def kiosk_files() -> list[Path]:
    """The kiosk's page and callback modules that exist now."""
    return sorted({path for pattern in KIOSK_GLOBS for path in ROOT.glob(pattern)})


def read_catalogue(lang: str) -> Catalog:
    """The real catalogue of ``lang``, as text."""
    with i18n.catalogue_path(lang).open("rb") as po:
        return read_po(po, locale=lang)


# ---- languages --------------------------------------------------------------------------


def test_languages_are_discovered_from_the_catalogues() -> None:
    languages = i18n.available_languages()
    assert languages[0] == "en"
    assert "es" in languages
    assert list(languages[1:]) == sorted(languages[1:])
    assert i18n.LANGUAGES == languages
    assert i18n.LANGUAGE_NAMES["en"] == "English"
    assert i18n.language_name("es") == "Español"


def test_adding_a_language_is_adding_a_catalogue(locales: Path) -> None:
    write_catalogue(locales, "fr", [("Air quality now", "Qualité de l'air maintenant")])
    (locales / "notalocale" / "LC_MESSAGES").mkdir(parents=True)
    (locales / "notalocale" / "LC_MESSAGES" / "messages.po").write_text("")
    (locales / "de").mkdir()  # a folder without a catalogue is no language
    assert i18n.available_languages() == ("en", "es", "fr")
    assert i18n.language_name("fr") == "Français"
    assert gettext_for("fr")("Air quality now") == "Qualité de l'air maintenant"
    assert choose_language("fr-CA") == "fr"


def test_english_is_offered_without_any_catalogue(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path / "missing")
    assert i18n.available_languages() == ("en",)
    assert gettext_for("en")("Air quality now") == "Air quality now"
    assert choose_language(None) == "en"  # the default "es" has no catalogue here


@pytest.mark.parametrize(("requested", "accept", "expected"), [
    ("en", "es", "en"),  # ?lang= wins over the header
    ("EN", None, "en"),
    ("es-ES", None, "es"),
    ("es_MX", None, "es"),
    ("xx", "en-GB,en;q=0.9", "en"),  # not on offer: the header decides
    (None, "fr-CH, fr;q=0.9, en;q=0.8, es;q=0.7", "en"),
    (None, "de;q=0.3, es;q=0.9", "es"),  # by quality, not order
    (None, "en;q=0, de", "es"),  # q=0 means not wanted
    (None, "*", "es"),
    (None, "en;q=nonsense, de", "es"),
    ("", "", "es"),
    (None, None, "es"),
])
def test_choose_language(requested: str | None, accept: str | None, expected: str) -> None:
    assert choose_language(requested, accept) == expected


def test_choose_language_default() -> None:
    assert choose_language(None, "de", default="en") == "en"
    assert choose_language(None, None, default="xx") == "en"  # not on offer


# ---- messages ---------------------------------------------------------------------------


def test_gettext_translates_and_falls_back_to_english(locales: Path) -> None:
    write_catalogue(locales, "es", [
        ("Air quality now", "Calidad del aire ahora"),
        ("Parking", "Aparcamiento", True),  # fuzzy: not trusted
        ("Untranslated", ""),
    ])
    _ = gettext_for("es")
    assert _("Air quality now") == "Calidad del aire ahora"
    assert _("Parking") == "Parking"
    assert _("Untranslated") == "Untranslated"
    assert _("Never extracted") == "Never extracted"
    assert gettext_for("en")("Air quality now") == "Air quality now"
    assert gettext_for("xx")("Air quality now") == "Air quality now"


def test_plural_forms_in_spanish(locales: Path) -> None:
    write_catalogue(locales, "es", [
        (("%(num)d free space", "%(num)d free spaces"),
         ("%(num)d plaza libre", "%(num)d plazas libres")),
    ])
    ngettext = ngettext_for("es")
    forms = {n: ngettext("%(num)d free space", "%(num)d free spaces", n) % {"num": n}
             for n in (0, 1, 2, 5)}
    assert forms == {0: "0 plazas libres", 1: "1 plaza libre", 2: "2 plazas libres",
                     5: "5 plazas libres"}
    english = ngettext_for("en")
    assert english("%(num)d free space", "%(num)d free spaces", 1) == "%(num)d free space"
    assert english("%(num)d free space", "%(num)d free spaces", 3) == "%(num)d free spaces"
    untranslated = ngettext("%(num)d tree", "%(num)d trees", 3)
    assert untranslated == "%(num)d trees"


def test_catalogues_are_compiled_once_per_language() -> None:
    assert i18n.translations("es") is i18n.translations("es")
    assert i18n.translations("es") is not i18n.translations("en")


def test_real_catalogues_load_as_written() -> None:
    """Every translated entry of every real catalogue comes back through gettext."""
    for lang in i18n.available_languages():
        if not i18n.catalogue_path(lang).is_file():
            continue
        catalog = read_catalogue(lang)
        _, ngettext = gettext_for(lang), ngettext_for(lang)
        for message in catalog:
            if not message.id or message.fuzzy:
                continue
            if message.pluralizable:
                singular, plural = message.id[0], message.id[1]
                if message.string[0]:
                    assert ngettext(singular, plural, 1) == message.string[0]
            elif message.string:
                assert _(message.id) == message.string


def test_spanish_catalogue_header() -> None:
    """The shipped header carries CLDR's rule for Spanish (one, many, other), which the
    kiosk uses whatever Babel is installed."""
    catalog = read_catalogue("es")
    assert str(catalog.locale) == "es"
    assert catalog.plural_forms == (
        "nplurals=3; plural=(n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2);")


def test_every_plural_entry_has_every_form_of_its_catalogue() -> None:
    for lang in i18n.available_languages():
        if not i18n.catalogue_path(lang).is_file():
            continue
        catalog = read_catalogue(lang)
        for message in catalog:
            if message.id and message.pluralizable and any(message.string):
                assert len(message.string) == catalog.num_plurals, (lang, message.id)
                assert all(message.string), (lang, message.id)


def test_the_kiosk_counts_in_spanish() -> None:
    ngettext = ngettext_for("es")
    said = {n: ngettext("{n} stop", "{n} stops", n).format(n=n) for n in (0, 1, 2, 1_000_000)}
    assert said == {0: "0 paradas", 1: "1 parada", 2: "2 paradas",
                    1_000_000: "1000000 de paradas"}


def test_no_compiled_catalogues_in_the_repo() -> None:
    assert not list(i18n.LOCALES_DIR.rglob("*.mo"))


def test_catalogues_ship_with_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(dep.startswith("babel") for dep in project["project"]["dependencies"])
    shipped = project["tool"]["setuptools"]["package-data"]["dashboard"]
    po = "locales/es/LC_MESSAGES/messages.po"  # relative to the dashboard package
    assert any(pathmatch(pattern, po) for pattern in shipped)


# ---- text carried by data ---------------------------------------------------------------


@pytest.mark.parametrize(("value", "lang", "expected"), [
    ({"en": "Market", "es": "Mercado"}, "es", "Mercado"),
    ({"en": "Market", "es": "Mercado"}, "en", "Market"),
    ({"en": "Market", "es": ""}, "es", "Market"),  # empty counts as missing
    ({"en": "Market"}, "fr", "Market"),
    ({"es": "Mercado", "eu": "Merkatua"}, "fr", "Mercado"),  # no English: any language
    ({"en": "", "eu": "Merkatua"}, "fr", "Merkatua"),
    ({}, "es", ""),
    ("Plain", "es", "Plain"),
    (None, "es", ""),
])
def test_text_in(value: dict[str, str] | str | None, lang: str, expected: str) -> None:
    assert text_in(value, lang) == expected


@pytest.mark.parametrize(("value", "lang", "fallbacks", "expected"), [
    ({"en": "Water", "es": "Agua"}, "en", ("es",), ("Water", "en")),
    ({"es": "Agua"}, "en", ("es",), ("Agua", "es")),  # says which language it fell back to
    ({"en": "Water", "es": "Agua", "eu": "Ura"}, "fr", ("es",), ("Agua", "es")),  # city first
    ({"en": "Water", "eu": "Ura"}, "fr", ("es",), ("Water", "en")),  # then English
    ({"eu": "Ura"}, "fr", ("es",), ("Ura", "eu")),  # then any
    ({"es": "", "en": "Water"}, "es", (), ("Water", "en")),
    ("Agua", "en", ("es",), ("Agua", None)),  # a plain string: language unknown
    (None, "en", (), ("", None)),
    ({}, "en", (), ("", None)),
])
def test_text_and_language(value: dict[str, str] | str | None, lang: str,
                           fallbacks: tuple[str, ...], expected: tuple[str, str | None]) -> None:
    assert i18n.text_and_language(value, lang, fallbacks) == expected


def test_a_language_named_in_another() -> None:
    assert i18n.language_name("es", "en") == "Spanish"
    assert i18n.language_name("en", "es") == "inglés"  # as a Spanish sentence writes it
    assert i18n.language_name("es") == "Español"


# ---- formatting (pinned from Babel's CLDR data) -----------------------------------------


@pytest.mark.parametrize(("lang", "expected"), [
    ("es", {
        "number": "1.234,5", "integer": "1.234.567", "negative": "-3,14",
        "percent": "42\xa0%", "percent1": "42,6\xa0%",
        "time": "14:05", "medium": "24 nov 2025", "long": "24 de noviembre de 2025",
        "weekday": "lunes, 24 de noviembre", "datetime": "24 nov 2025, 14:05",
        "ago": "hace 5 minutos", "ahead": "dentro de 2 horas",
        "days": "1,5 días", "one day": "1 día", "two days": "2 días",
    }),
    ("en", {
        "number": "1,234.5", "integer": "1,234,567", "negative": "-3.14",
        "percent": "42%", "percent1": "42.6%",
        "time": "2:05\u202fPM", "medium": "Nov 24, 2025", "long": "November 24, 2025",
        "weekday": "Monday, November 24", "datetime": "Nov 24, 2025, 2:05\u202fPM",
        "ago": "5 minutes ago", "ahead": "in 2 hours",
        "days": "1.5 days", "one day": "1 day", "two days": "2 days",
    }),
])
def test_locale_formats(lang: str, expected: dict[str, str]) -> None:
    got = {
        "number": format_number(1234.5, lang, 1), "integer": format_number(1234567, lang),
        "negative": format_number(-3.14159, lang, 2),
        "percent": format_percent(0.42, lang), "percent1": format_percent(0.4256, lang, 1),
        "time": format_time(WHEN, lang, TZ), "medium": format_date(WHEN, lang, TZ),
        "long": format_date(WHEN, lang, TZ, style="long"),
        "weekday": format_date(WHEN, lang, TZ, style="weekday"),
        "datetime": format_datetime(WHEN, lang, TZ),
        "ago": format_relative(-300, lang), "ahead": format_relative(7200, lang),
        "days": format_duration_days(1.5, lang), "one day": format_duration_days(1.04, lang),
        "two days": format_duration_days(2, lang),
    }
    assert got == expected


def test_dates_are_shown_in_the_city_time_zone() -> None:
    late = datetime(2025, 11, 24, 23, 30, tzinfo=timezone.utc)  # already Tuesday in Madrid
    assert format_date(late, "es", TZ, style="weekday") == "martes, 25 de noviembre"
    assert format_date(late, "es", "UTC", style="weekday") == "lunes, 24 de noviembre"
    assert format_time("2025-11-24T13:05:00", "es", TZ) == "14:05"  # naive ISO is UTC
    assert format_time("2025-11-24T13:05:00+00:00", "es", "Not/AZone") == "13:05"
    assert format_date(date(2025, 11, 24), "es", TZ, style="long") == "24 de noviembre de 2025"


def test_other_languages_format_from_their_own_locale_data() -> None:
    assert format_date(WHEN, "fr", TZ, style="weekday") == "lundi 24 novembre"
    assert format_percent(0.42, "fr") == "42\xa0%"
    assert format_relative(timedelta(minutes=-5), "de") == "vor 5 Minuten"
    assert format_number(1234.5, "nonsense", 1) == "1,234.5"  # unknown: English


def test_no_value_is_an_en_dash() -> None:
    assert DASH == "–"
    for lang in ("es", "en"):
        assert format_number(None, lang) == DASH
        assert format_percent(None, lang) == DASH
        assert format_time(None, lang, TZ) == DASH
        assert format_date(None, lang, TZ) == DASH
        assert format_datetime(None, lang, TZ) == DASH
        assert format_relative(None, lang) == DASH
        assert format_duration_days(None, lang) == DASH


# ---- the kiosk's strings ----------------------------------------------------------------


def test_babel_cfg_extracts_every_kiosk_module() -> None:
    """``make messages`` reads babel.cfg: it must cover what the coverage test reads."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, _options = parse_mapping_cfg(cfg)
    names = [path.relative_to(ROOT).as_posix() for path in kiosk_files()]
    names += ["layouts/kiosk.py", "layouts/kiosk_parts.py", "callbacks/kiosk.py"]
    for name in names:
        assert any(method == "python" and pathmatch(pattern, name)
                   for pattern, method in method_map), f"babel.cfg misses {name}"


def test_kiosk_names_its_translators_for_extraction() -> None:
    """``pybabel extract`` only sees calls of ``_`` and ``ngettext`` (Babel's keywords)."""
    files = kiosk_files()
    if not files:
        pytest.skip("no layouts/kiosk*.py or callbacks/kiosk*.py yet")
    allowed = {"gettext_for": {"_", "gettext"}, "ngettext_for": {"ngettext"}}
    bad: list[str] = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Call):
                inner = node.func.func
                if isinstance(inner, ast.Name) and inner.id in allowed:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: "
                               f"{inner.id}(...)(...) is not extracted")
            if not isinstance(node, ast.Assign | ast.AnnAssign):
                continue
            value = node.value
            if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                    and value.func.id in allowed):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if not (isinstance(target, ast.Name) and target.id in allowed[value.func.id]):
                    shown = ast.unparse(target)
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {shown} = "
                               f"{value.func.id}(...): name it "
                               f"{' or '.join(sorted(allowed[value.func.id]))}")
    assert not bad, "strings that make messages cannot see:\n" + "\n".join(bad)


def test_catalogues_translate_every_kiosk_string() -> None:
    """Every string of the kiosk has a translation in every non-English catalogue."""
    files = kiosk_files()
    if not files:
        pytest.skip("no layouts/kiosk*.py or callbacks/kiosk*.py yet: nothing to translate")
    extracted: dict[tuple[str | None, str | tuple[str, ...]], tuple[str, int]] = {}
    for path in files:
        for lineno, message, _comments, context in extract_from_file("python", path):
            extracted.setdefault((context, message), (path.relative_to(ROOT).as_posix(), lineno))
    assert extracted, "the kiosk marks no string for translation"
    missing: list[str] = []
    for lang in i18n.available_languages():
        if lang == i18n.SOURCE_LANG:
            continue
        catalog = read_catalogue(lang)
        for (context, message), where in sorted(extracted.items(), key=lambda kv: kv[1]):
            msgid = message if isinstance(message, str) else message[0]
            entry = catalog.get(msgid, context=context)
            strings = () if entry is None else (
                entry.string if isinstance(entry.string, tuple) else (entry.string,))
            plural_ok = entry is not None and (isinstance(message, str)
                                               or entry.pluralizable)
            if not strings or not all(strings) or entry.fuzzy or not plural_ok:
                state = "missing" if entry is None else "fuzzy" if entry.fuzzy else (
                    "untranslated")
                missing.append(f"{lang}: {msgid!r} ({where[0]}:{where[1]}) {state}")
    assert not missing, ("kiosk strings without a translation (run `make messages`, then "
                         "translate; docs/i18n.md):\n" + "\n".join(missing))


def test_catalogues_have_no_fuzzy_or_obsolete_entries() -> None:
    for lang in i18n.available_languages():
        if lang == i18n.SOURCE_LANG or not i18n.catalogue_path(lang).is_file():
            continue
        catalog = read_catalogue(lang)
        fuzzy = [message.id for message in catalog if message.id and message.fuzzy]
        assert not fuzzy, f"{lang}: fuzzy entries to review: {fuzzy}"
        assert not catalog.obsolete, f"{lang}: obsolete entries: {list(catalog.obsolete)}"
