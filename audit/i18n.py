"""Languages and calendars of what a person reads: the report, the workbook, the console.

Words come from gettext catalogues managed with Babel: ``audit/locale/<lang>/LC_MESSAGES/sales_audit.po``
(``fa`` Persian, ``zh`` Chinese; English is the source text, so an English catalogue is not needed). The
``.po`` files are the only copy: they are compiled in memory with Babel the first time a language is used
(a few milliseconds), so no compiled ``.mo`` can go stale or be missing from an install.

The language is chosen per run (``audit run --lang``, else the policy's ``language``) and is *active* in a
context (:func:`use_language`); the functions below translate into the active one, so code that words a
finding calls them without passing the language around. Mark text like this::

    from audit.i18n import N_, t, tn

    t("Money at risk")                                       # a plain string
    t("%(count)s findings for %(name)s", count=3, name=n)    # named placeholders, never positional
    tn("%(count)s finding", "%(count)s findings", count, count=count)   # plural forms
    LABEL = N_("Items added to invoices")   # marked for extraction; translated later with t(LABEL)

Numbers (int or float) given to ``t``/``tn`` as placeholder values are written in the language's digits
and separators (:func:`format_number`); text is put in as it is. ``pybabel extract`` needs the keywords
in :data:`EXTRACT_KEYWORDS` (``-k t -k tn:1,2 -k N_``; ``docs/languages.md`` has the commands).

Presentation only: data files (exceptions CSV/Parquet/JSON, the manifest) keep ISO dates, Western digits
and the English pattern names whatever the language and calendar.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import gettext as _gettext
import io
import math
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

DOMAIN = "sales_audit"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# The languages a report can be written in, and their own names.
LANGUAGES: dict[str, str] = {"en": "English", "fa": "فارسی", "zh": "中文"}
RIGHT_TO_LEFT = frozenset({"fa"})
DEFAULT_LANGUAGE = "en"
# What `pybabel extract` must look for besides gettext's defaults (_, gettext, ngettext, ...).
EXTRACT_KEYWORDS = {"t": None, "tn": (1, 2), "N_": None}

# The digits of CLDR's "arabext" numbering system (Persian), 0-9.
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
_TO_PERSIAN = str.maketrans("0123456789", PERSIAN_DIGITS)
_TO_WESTERN = str.maketrans(PERSIAN_DIGITS + ARABIC_INDIC_DIGITS, "0123456789" * 2)
# Languages whose numbers are written in Persian digits.
PERSIAN_DIGIT_LANGUAGES = frozenset({"fa"})

_active: contextvars.ContextVar[str] = contextvars.ContextVar("sales_audit_language", default=DEFAULT_LANGUAGE)
_calendar: contextvars.ContextVar[str] = contextvars.ContextVar("sales_audit_calendar", default="gregorian")


class LanguageError(ValueError):
    """A language the tool has no catalogue for; the message lists the ones it has."""


def check_language(code: str | None) -> str:
    """``code`` as a known language code (``en``, ``fa``, ``zh``; case and region ignored: ``fa_IR``), or
    a :class:`LanguageError` naming the languages there are."""
    text = str(code or "").strip().replace("-", "_")
    base = text.split("_")[0].lower()
    if base in LANGUAGES:
        return base
    known = ", ".join(f"{c} ({name})" for c, name in LANGUAGES.items())
    raise LanguageError(f"unknown language {code!r}; choose one of {known}")


def languages() -> list[str]:
    return list(LANGUAGES)


def current_language() -> str:
    return _active.get()


@contextlib.contextmanager
def use_language(code: str | None) -> Iterator[str]:
    """Make ``code`` the active language inside the ``with`` block (``None``: leave it as it is)."""
    if code is None:
        yield _active.get()
        return
    token = _active.set(check_language(code))
    try:
        yield _active.get()
    finally:
        _active.reset(token)


def current_calendar() -> str:
    return _calendar.get()


@contextlib.contextmanager
def presentation(language: str | None = None, calendar: str | None = None) -> Iterator[None]:
    """Make ``language`` and ``calendar`` (``gregorian`` or ``jalali``) the active ones inside the block:
    what the writers and wording functions use to show words, numbers and dates (``None``: unchanged)."""
    if calendar is not None and calendar not in CALENDARS:
        raise ValueError(f"unknown calendar {calendar!r}; choose one of {', '.join(CALENDARS)}")
    token = _calendar.set(calendar) if calendar is not None else None
    try:
        with use_language(language):
            yield
    finally:
        if token is not None:
            _calendar.reset(token)


def is_right_to_left(code: str | None = None) -> bool:
    return (code or current_language()) in RIGHT_TO_LEFT


def catalogue_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(code: str) -> _gettext.NullTranslations:
    """The compiled catalogue of language ``code`` (English: the source text itself)."""
    code = check_language(code)
    if code == DEFAULT_LANGUAGE:
        return _gettext.NullTranslations()
    with catalogue_path(code).open("rb") as source:
        catalog = read_po(source, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as `pybabel compile` does
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(message: str) -> str:
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark only"
    """Mark ``message`` for extraction without translating it now (module-level labels)."""
    return message


def _values(values: dict) -> dict:
    return {k: format_number(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in values.items()}


def t(message: str, **values) -> str:
    """``message`` in the active language, its ``%(name)s`` placeholders filled from ``values`` (numbers in
    the language's digits)."""
    text = gettext(message)
    return text % _values(values) if values else text


def tn(singular: str, plural: str, n: int, **values) -> str:
    """The plural form of ``singular``/``plural`` for ``n`` in the active language, placeholders filled."""
    text = ngettext(singular, plural, n)
    return text % _values(values) if values else text


# ---------------------------------------------------------------------------------------------- numbers

def localise_digits(text: str, code: str | None = None) -> str:
    """``text`` with its Western digits in the language's own (Persian digits in ``fa``)."""
    return text.translate(_TO_PERSIAN) if (code or current_language()) in PERSIAN_DIGIT_LANGUAGES else text


def format_number(value, decimals: int | None = None, code: str | None = None) -> str:
    """``value`` with the language's digits and its decimal and group separators (Babel's CLDR data):
    ``1,234,567`` in English and Chinese, ``۱٬۲۳۴٬۵۶۷`` in Persian. ``decimals``: exactly that many
    decimals; ``None``: whole numbers as they are, other numbers with up to 2 decimals. '' for NaN/None."""
    code = code or current_language()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(number):
        return ""
    if decimals is None:
        pattern = "#,##0" if float(number).is_integer() else "#,##0.##"
    else:
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    text = format_decimal(value if isinstance(value, int) else number, format=pattern, locale=code,
                          numbering_system="default")
    return localise_digits(text, code)


def format_money(value, code: str | None = None) -> str:
    """Money as the report shows it: whole units, grouped."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return format_number(round(number), 0, code) if math.isfinite(number) else ""


_NUMBER = re.compile(r"[-−]?[0-9۰-۹٠-٩][0-9۰-۹٠-٩,٬،.٫]*")


def parse_number(text: str) -> float:
    """A number written by :func:`format_number` in any language, back as a float (Persian or
    Arabic-Indic digits, Persian or Western separators): ``"۱٬۲۳۴٫۵"`` is 1234.5."""
    match = _NUMBER.search(str(text))
    if match is None:
        raise ValueError(f"no number in {text!r}")
    western = match.group(0).translate(_TO_WESTERN).replace("−", "-")
    western = western.replace("٬", "").replace(",", "").replace("،", "").replace("٫", ".")
    return float(western)


# ---------------------------------------------------------------------------------------------- dates

CALENDARS = ("gregorian", "jalali")


def _as_date(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        try:
            return value.to_pydatetime().date()
        except ValueError:  # NaT
            return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def format_date(value, calendar: str | None = None, code: str | None = None) -> str:
    """A date as a person reads it: ISO ``2024-04-03`` in the Gregorian calendar; ``1403/01/15`` in the
    Jalali one (``۱۴۰۳/۰۱/۱۵`` in Persian). '' for a missing date; the text itself for what is no date."""
    day = _as_date(value)
    if day is None:
        return "" if value is None or str(value) in ("", "NaT", "nan", "None") else str(value)
    if (calendar or current_calendar()) == "jalali":
        import jdatetime

        jalali = jdatetime.date.fromgregorian(date=day)
        text = f"{jalali.year:04d}/{jalali.month:02d}/{jalali.day:02d}"
    else:
        text = day.isoformat()
    return localise_digits(text, code)


_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def format_period(value, calendar: str | None = None, code: str | None = None) -> str:
    """A month ``YYYY-MM`` as a person reads it. In the Jalali calendar a Gregorian month straddles two
    Jalali months, so it is named by the Jalali months of its first and last day: ``2024-04`` is
    ``1403/01–1403/02`` (Farvardin–Ordibehesht 1403). Text that is no month is returned as it is."""
    text = "" if value is None else str(value)
    match = _PERIOD.match(text)
    if not match:
        return text
    if (calendar or current_calendar()) != "jalali":
        return localise_digits(text, code)
    import calendar as _calendar

    import jdatetime

    year, month = int(match.group(1)), int(match.group(2))
    first = jdatetime.date.fromgregorian(date=dt.date(year, month, 1))
    last = jdatetime.date.fromgregorian(date=dt.date(year, month, _calendar.monthrange(year, month)[1]))
    shown = f"{first.year:04d}/{first.month:02d}"
    if (last.year, last.month) != (first.year, first.month):
        shown += f"–{last.year:04d}/{last.month:02d}"
    return localise_digits(shown, code)
