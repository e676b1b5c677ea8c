"""Message catalogues (gettext, via Babel), and locale-aware formatting (``formats``).

Catalogues are plain ``.po`` files under ``dashboard/locales/<lang>/LC_MESSAGES/``; they
are read and compiled in memory on first use (one cached ``Translations`` per language),
so no ``.mo`` file is ever generated or committed. Adding a language is adding a
catalogue: the languages on offer are the folders holding one, plus English, the source
language of every message.

A page asks for its callables once per render::

    _ = gettext_for(lang)
    ngettext = ngettext_for(lang)
    _("Air quality now")
    ngettext("%(num)d alert", "%(num)d alerts", n) % {"num": n}

Name them ``_`` and ``ngettext`` so that ``pybabel extract`` (``make messages``) finds
the strings; ``N_`` marks a string for extraction where it is defined (a constant) and
``_`` translates it where it is shown. No Dash here: this is the core.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from dashboard.i18n.formats import (
    DASH,
    format_date,
    format_datetime,
    format_duration_days,
    format_number,
    format_percent,
    format_relative,
    format_time,
    locale_of,
)

__all__ = [
    "DASH", "DOMAIN", "LOCALES_DIR", "SOURCE_LANG", "N_", "available_languages",
    "catalogue_path", "choose_language", "clear_caches", "format_date", "format_datetime",
    "format_duration_days", "format_number", "format_percent", "format_relative",
    "format_time", "gettext_for", "language_name", "locales_dir", "ngettext_for",
    "text_and_language", "text_in", "translations",
]

SOURCE_LANG = "en"
DOMAIN = "messages"
LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
_MAX_ACCEPT_ITEMS = 32  # an Accept-Language header longer than this is cut


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark ``message`` for extraction without translating it (translate it with ``_``)."""
    return message


# -- catalogues ------------------------------------------------------------------------


def locales_dir() -> Path:
    """The folder of the catalogues (``LOCALES_DIR``; tests point it elsewhere)."""
    return LOCALES_DIR


def catalogue_path(lang: str) -> Path:
    """Where the ``.po`` catalogue of ``lang`` lives."""
    return locales_dir() / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def available_languages() -> tuple[str, ...]:
    """The languages on offer: English first, then every catalogue's language, sorted."""
    found: set[str] = set()
    root = locales_dir()
    if root.is_dir():
        for folder in root.iterdir():
            if not (folder / "LC_MESSAGES" / f"{DOMAIN}.po").is_file():
                continue
            try:
                Locale.parse(folder.name)
            except (ValueError, UnknownLocaleError):
                continue  # not a locale name: not a language
            found.add(folder.name)
    found.discard(SOURCE_LANG)
    return (SOURCE_LANG, *sorted(found))


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalogue of ``lang`` (no translations for English or unknown ones)."""
    if lang not in available_languages():
        return NullTranslations()
    path = catalogue_path(lang)
    if not path.is_file():  # English without a catalogue
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


def gettext_for(lang: str) -> Callable[[str], str]:
    """``_`` for ``lang``: a message's translation, or the English message itself."""
    return translations(lang).gettext


def ngettext_for(lang: str) -> Callable[[str, str, int], str]:
    """``ngettext`` for ``lang``: the plural form for ``n`` (English forms as fallback)."""
    return translations(lang).ngettext


def clear_caches() -> None:
    """Forget discovered languages, compiled catalogues and locales (after changing them)."""
    available_languages.cache_clear()
    translations.cache_clear()
    locale_of.cache_clear()


def language_name(lang: str, in_lang: str | None = None) -> str:
    """The language's own name, capitalised: ``English``, ``Español``; or its name in
    ``in_lang`` as a sentence there writes it (``Spanish`` in en, ``inglés`` in es)."""
    name = locale_of(lang).get_display_name(locale_of(in_lang or lang)) or lang
    return name if in_lang else name[:1].upper() + name[1:]


def __getattr__(name: str) -> Any:
    """``LANGUAGES`` and ``LANGUAGE_NAMES``, computed from the catalogues when read."""
    if name == "LANGUAGES":
        return available_languages()
    if name == "LANGUAGE_NAMES":
        return {lang: language_name(lang) for lang in available_languages()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- choosing a language ---------------------------------------------------------------


def _norm(tag: str) -> str:
    return tag.strip().replace("_", "-").lower()


def _match(tag: str, languages: tuple[str, ...]) -> str | None:
    """The available language for a BCP 47 tag: exact, then shorter, then same primary."""
    wanted = _norm(tag)
    if not wanted or wanted == "*":
        return None
    by_norm = {_norm(lang): lang for lang in languages}
    parts = wanted.split("-")
    for end in range(len(parts), 0, -1):
        found = by_norm.get("-".join(parts[:end]))
        if found:
            return found
    for norm, lang in by_norm.items():  # "pt" -> "pt_BR" when only that one exists
        if norm.split("-")[0] == parts[0]:
            return lang
    return None


def _accepted(header: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (q=0 left out)."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:_MAX_ACCEPT_ITEMS]):
        tag, *params = (piece.strip() for piece in item.split(";"))
        quality = 1.0
        for param in params:
            key, _sep, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _q, _i, tag in sorted(ranked)]


def choose_language(requested: str | None, accept_language: str | None = None,
                    default: str = "es") -> str:
    """``?lang=`` if on offer, else the best of ``Accept-Language``, else ``default``.

    Matching ignores case and region (``es-ES`` -> ``es``). A ``default`` without a
    catalogue gives English.
    """
    languages = available_languages()
    if requested:
        found = _match(requested, languages)
        if found:
            return found
    for tag in _accepted(accept_language or ""):
        found = _match(tag, languages)
        if found:
            return found
    return default if default in languages else SOURCE_LANG


def text_in(value: Mapping[str, str] | str | None, lang: str) -> str:
    """Text of data that carries its languages (``{"en": .., "es": ..}``): lang, en, any."""
    return text_and_language(value, lang)[0]


def text_and_language(value: Mapping[str, str] | str | None, lang: str,
                      fallbacks: tuple[str, ...] = ()) -> tuple[str, str | None]:
    """Text of data that carries its languages, and the language it is in: ``lang`` when
    the data has it, else the first of ``fallbacks`` it has, else English, else any. A
    plain string comes with None (its language is not known), and so does no text."""
    if value is None:
        return "", None
    if isinstance(value, str):
        return value, None
    for code in (lang, *fallbacks, SOURCE_LANG):
        if value.get(code):
            return value[code], code
    return next(((text, code) for code, text in value.items() if text), ("", None))
