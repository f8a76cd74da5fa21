"""The portal's languages: gettext catalogs for English and French (SPEC §6).

The catalogs are Babel ``.po`` files compiled to ``.mo`` beside them
(``locales/<lang>/LC_MESSAGES/messages.po``). The language is the one the
visitor chose with the switch, else the best match of ``Accept-Language``,
else English.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "N_",
    "gettext_",
    "negotiate",
    "ngettext_",
    "translations",
    "using",
]

LOCALES = Path(__file__).resolve().parent / "locales"

#: The languages the portal speaks, with their own names.
LANGUAGES = {"en": "English", "fr": "Français"}
DEFAULT = "en"

_current: ContextVar[gettext.NullTranslations] = ContextVar("axis_licensing_translations")


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (one of :data:`LANGUAGES`)."""
    return gettext.translation("messages", localedir=LOCALES, languages=[lang])


def using(lang: str) -> None:
    """Make ``lang`` the language of what this context renders next."""
    _current.set(translations(lang))


def N_(message: str) -> str:
    """Mark ``message`` for extraction, untranslated: it is translated where it is shown."""
    return message


def gettext_(message: str) -> str:
    """``message`` in the current language."""
    return _current.get(translations(DEFAULT)).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message in the current language."""
    return _current.get(translations(DEFAULT)).ngettext(singular, plural, n)


def negotiate(accept_language: str | None) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header, else English."""
    choices: list[tuple[float, int, str]] = []
    for n, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        lang = tag.strip().lower().split("-")[0]
        if lang in LANGUAGES and quality > 0:
            choices.append((-quality, n, lang))
    return min(choices)[2] if choices else DEFAULT
