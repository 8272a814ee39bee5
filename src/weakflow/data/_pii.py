"""Find, count and redact personal data in free text: emails, phones, cards, IBANs, IP addresses.

Each detector pairs a permissive pattern with a validity check, so that numbers which merely look
like personal data are left alone:

- ``EMAIL_ADDRESS``: ``local@domain.tld`` with a letters-only top-level domain.
- ``PHONE_NUMBER``: :class:`phonenumbers.PhoneNumberMatcher`, which only accepts numbers valid in
  the numbering plan of ``region`` (or of the country of a ``+`` prefix); years, dates and plain
  short numbers are not phone numbers.
- ``CREDIT_CARD``: 13-19 digits, contiguous or in the printed groupings (4-4-4-4[-1..4], 4-6-5,
  4-6-4, spaces or dashes), starting with 2-6 (the card-issuing industries) and passing the Luhn
  check; a 16-digit order number that fails Luhn is not a card.
- ``IBAN_CODE``: country code, check digits and account, contiguous or in groups of four, with the
  country's registered length and the ISO 13616 mod-97 check.
- ``IP_ADDRESS``: dotted quads and IPv6 literals validated by :mod:`ipaddress` (so
  ``999.1.1.1`` and ``1.2.3`` are not addresses); IPv6 literals must contain a digit
  (``cafe::babe`` is left alone) and version strings with more than four parts or a letter
  prefix (``v1.2.3.4``) are not matched.

Overlapping matches are resolved longest first, so an email that contains digits is one email.
Every detector needs a digit or an ``@``: text without either is never changed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pandas as pd
import phonenumbers

from weakflow.errors import SchemaError

__all__ = [
    "IBAN_LENGTHS",
    "PII_ENTITIES",
    "PIIEntity",
    "PIIScan",
    "PIISpan",
    "find_pii",
    "iban_valid",
    "luhn_valid",
    "redact_pii",
    "redact_text",
    "scan_pii",
]

PIIEntity = Literal["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS"]

#: The entity types weakflow detects, in the order reports list them (and break length ties).
PII_ENTITIES: Final[tuple[PIIEntity, ...]] = (
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "CREDIT_CARD",
    "IP_ADDRESS",
    "PHONE_NUMBER",
)
_PRIORITY: Final = {entity: i for i, entity in enumerate(PII_ENTITIES)}


@dataclass(frozen=True)
class PIISpan:
    """One piece of personal data in a text: its type and where it is, ``text[start:end]``."""

    entity: PIIEntity
    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class PIIScan:
    """What :func:`scan_pii` found in a sequence of texts.

    Attributes
    ----------
    counts : dict of str to int
        Number of matches per entity type (every type in :data:`PII_ENTITIES`, zeros included).
    rows : tuple of int
        0-based positions of the texts with at least one match.
    rows_by_entity : dict of str to tuple of int
        The same, per entity type.
    total : int
        Number of matches of any type.
    n_texts : int
        Number of texts scanned (missing ones included).
    """

    counts: dict[str, int]
    rows: tuple[int, ...]
    rows_by_entity: dict[str, tuple[int, ...]] = field(default_factory=dict)
    total: int = 0
    n_texts: int = 0

    @property
    def found(self) -> bool:
        """Whether any text holds personal data."""
        return self.total > 0

    def to_dict(self, *, max_rows: int | None = 100) -> dict[str, Any]:
        """The scan as JSON-ready data for reports (no PII in it: only counts and positions).

        ``rows`` lists at most ``max_rows`` positions (all of them with ``None``);
        ``rows_affected`` always counts every one.
        """
        rows = list(self.rows if max_rows is None else self.rows[:max_rows])
        return {
            "counts": dict(self.counts),
            "total": self.total,
            "n_texts": self.n_texts,
            "rows_affected": len(self.rows),
            "rows_affected_by_entity": {e: len(r) for e, r in self.rows_by_entity.items()},
            "rows": rows,
        }


# --- email -----------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])"
    r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
    r"(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
)


def _emails(text: str) -> list[PIISpan]:
    if "@" not in text:
        return []
    return [PIISpan("EMAIL_ADDRESS", m.start(), m.end()) for m in _EMAIL.finditer(text)]


# --- phone -----------------------------------------------------------------------------------


def _phones(text: str, region: str) -> list[PIISpan]:
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    return [PIISpan("PHONE_NUMBER", m.start, m.end) for m in matcher]


# --- credit card -----------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]+(?:[ \-][0-9]+)*(?![0-9])")
_GROUP = re.compile(r"[0-9]+")


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn (mod 10) check used by payment card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_grouping_ok(sizes: list[int]) -> bool:
    if len(sizes) == 1:
        return 13 <= sizes[0] <= 19
    if sizes in ([4, 6, 5], [4, 6, 4]):
        return True
    return len(sizes) >= 3 and all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4


def _is_card(digits: str) -> bool:
    return (
        13 <= len(digits) <= 19
        and digits[0] in "23456"
        and len(set(digits)) > 1
        and luhn_valid(digits)
    )


def _cards(text: str) -> list[PIISpan]:
    spans: list[PIISpan] = []
    for run in _DIGIT_RUN.finditer(text):
        groups = [(m.start(), m.end()) for m in _GROUP.finditer(text, run.start(), run.end())]
        i = 0
        while i < len(groups):
            for j in range(len(groups) - 1, i - 1, -1):
                part = groups[i : j + 1]
                seps = {text[a[1]] for a in part[:-1]}
                sizes = [b - a for a, b in part]
                digits = "".join(text[a:b] for a, b in part)
                if len(seps) <= 1 and _card_grouping_ok(sizes) and _is_card(digits):
                    spans.append(PIISpan("CREDIT_CARD", part[0][0], part[-1][1]))
                    i = j + 1
                    break
            else:
                i += 1
    return spans


# --- IBAN ------------------------------------------------------------------------------------

#: Registered IBAN lengths (SWIFT IBAN registry); other country codes are accepted at 15-34.
IBAN_LENGTHS: Final[dict[str, int]] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN_RUN = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}[A-Za-z0-9]*(?: [A-Za-z0-9]+)*(?![A-Za-z0-9])"
)


def iban_valid(iban: str) -> bool:
    """Whether a compact IBAN (no spaces) has a valid length and ISO 13616 mod-97 check digits."""
    iban = iban.upper()
    if not (15 <= len(iban) <= 34) or not iban.isascii() or not iban.isalnum():
        return False
    if not (iban[:2].isalpha() and iban[2:4].isdigit()):
        return False
    if IBAN_LENGTHS.get(iban[:2], len(iban)) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _ibans(text: str) -> list[PIISpan]:
    spans: list[PIISpan] = []
    for run in _IBAN_RUN.finditer(text):
        parts = run.group().split(" ")
        # Printed IBANs come in groups of four ("DE89 3704 0044 ..."), electronic ones in one
        # piece; words after the IBAN join the run, so try the longest valid prefix of groups.
        for n in range(len(parts), 0, -1):
            head = parts[:n]
            grouped = n == 1 or (all(len(p) == 4 for p in head[:-1]) and 1 <= len(head[-1]) <= 4)
            if grouped and iban_valid("".join(head)):
                start = run.start()
                spans.append(PIISpan("IBAN_CODE", start, start + len(" ".join(head))))
                break
    return spans


# --- IP address ------------------------------------------------------------------------------

_IPV4 = re.compile(r"(?<![A-Za-z0-9_.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?!\.?[A-Za-z0-9_])")
_IPV6 = re.compile(
    r"(?<![A-Za-z0-9_:.])"
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})?"
    r"(?![A-Za-z0-9_:]|\.[0-9])"
)


def _ips(text: str) -> list[PIISpan]:
    spans: list[PIISpan] = []
    if "." in text:
        for m in _IPV4.finditer(text):
            try:
                ipaddress.IPv4Address(m.group())
            except ValueError:
                continue
            spans.append(PIISpan("IP_ADDRESS", m.start(), m.end()))
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6.finditer(text):
            candidate = m.group()
            if not any(ch.isdigit() for ch in candidate):
                continue
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            spans.append(PIISpan("IP_ADDRESS", m.start(), m.end()))
    return spans


# --- public API ------------------------------------------------------------------------------

_ANY_DIGIT = re.compile(r"\d")


def find_pii(text: str, *, region: str = "US") -> list[PIISpan]:
    """Find personal data in one text.

    Why: one function decides what counts as PII, so the data checks' counts and the redaction
    that follows them always agree.

    Parameters
    ----------
    text : str
        The text to scan.
    region : str
        ISO 3166-1 alpha-2 country whose numbering plan applies to phone numbers written without
        a ``+`` country code (``"US"``, ``"GB"``, ``"DE"``...).

    Returns
    -------
    list of PIISpan
        Non-overlapping spans sorted by position; where matches overlap the longest wins.

    Examples
    --------
    >>> [(s.entity, s.start, s.end) for s in find_pii("mail ann@example.org or 415-555-2671")]
    [('EMAIL_ADDRESS', 5, 20), ('PHONE_NUMBER', 24, 36)]
    >>> find_pii("order 1234 5678 9012 3456 shipped in 2021")
    []
    """
    if not isinstance(text, str):
        raise TypeError(f"find_pii needs a str, got {type(text).__name__}: {text!r}.")
    has_digit = _ANY_DIGIT.search(text) is not None
    if not has_digit and "@" not in text:
        return []
    candidates = _emails(text)
    if has_digit:
        candidates += _ibans(text) + _cards(text) + _ips(text) + _phones(text, region)
    candidates.sort(key=lambda s: (-len(s), _PRIORITY[s.entity], s.start))
    taken: list[PIISpan] = []
    for span in candidates:
        if all(span.end <= t.start or span.start >= t.end for t in taken):
            taken.append(span)
    return sorted(taken, key=lambda s: s.start)


def _check_region(region: str) -> str:
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise SchemaError(
            f"Unknown phone region {region!r}: pass an ISO 3166-1 alpha-2 code such as 'US', "
            "'GB' or 'DE' (see phonenumbers.SUPPORTED_REGIONS)."
        )
    return region


def scan_pii(texts: Iterable[str | None], *, region: str = "US") -> PIIScan:
    """Count personal data in a sequence of texts.

    Why: the data report shows how much PII a dataset holds (and where) before anything is
    stored, without ever showing the PII itself.

    Parameters
    ----------
    texts : iterable of str or None
        The texts; missing values (``None``, NaN) are skipped but keep their position.
    region : str
        Default phone region, as in :func:`find_pii`.

    Returns
    -------
    PIIScan
        Counts per entity type and the positions of the texts that hold any.

    Examples
    --------
    >>> scan = scan_pii(["no pii here", "ip 10.0.0.1 and 10.0.0.2", None])
    >>> scan.counts["IP_ADDRESS"], scan.rows, scan.total
    (2, (1,), 2)
    """
    _check_region(region)
    counts: dict[str, int] = dict.fromkeys(PII_ENTITIES, 0)
    by_entity: dict[str, list[int]] = {e: [] for e in PII_ENTITIES}
    rows: list[int] = []
    n = 0
    for i, text in enumerate(texts):
        n += 1
        if not isinstance(text, str):
            continue
        spans = find_pii(text, region=region)
        if not spans:
            continue
        rows.append(i)
        seen: set[str] = set()
        for span in spans:
            counts[span.entity] += 1
            if span.entity not in seen:
                seen.add(span.entity)
                by_entity[span.entity].append(i)
    return PIIScan(
        counts=counts,
        rows=tuple(rows),
        rows_by_entity={e: tuple(r) for e, r in by_entity.items()},
        total=sum(counts.values()),
        n_texts=n,
    )


def redact_text(text: str, *, region: str = "US") -> str:
    """``text`` with each PII span replaced by ``<ENTITY>`` (see :func:`redact_pii`)."""
    # Removing a span can expose a neighbour that was only rejected because of it (a digit
    # next to an address); scanning again until nothing is found makes the result PII-free.
    for _ in range(10):
        spans = find_pii(text, region=region)
        if not spans:
            break
        pieces: list[str] = []
        last = 0
        for span in spans:
            pieces += [text[last : span.start], f"<{span.entity}>"]
            last = span.end
        pieces.append(text[last:])
        text = "".join(pieces)
    return text


def redact_pii(texts: pd.Series, *, region: str = "US") -> pd.Series:
    """Replace personal data in texts by placeholders such as ``<EMAIL_ADDRESS>``.

    Why: a project can opt in to storing only redacted text, so the registry, reports and
    monitoring never hold the raw personal data of the people in the training data.

    Parameters
    ----------
    texts : pandas.Series
        Texts; missing values stay missing, non-text values are left as they are.
    region : str
        Default phone region, as in :func:`find_pii`.

    Returns
    -------
    pandas.Series
        Same index, name and dtype, each span replaced by ``<EMAIL_ADDRESS>``,
        ``<PHONE_NUMBER>``, ``<CREDIT_CARD>``, ``<IBAN_CODE>`` or ``<IP_ADDRESS>``.

    Examples
    --------
    >>> redact_pii(pd.Series(["write to ann@example.org", None])).tolist()
    ['write to <EMAIL_ADDRESS>', nan]
    """
    if not isinstance(texts, pd.Series):
        raise TypeError(
            f"redact_pii needs a pandas Series of texts, got {type(texts).__name__}; "
            "wrap a list in pd.Series(...)."
        )
    _check_region(region)
    out = texts.copy()
    for pos, value in enumerate(texts.array):
        if isinstance(value, str):
            redacted = redact_text(value, region=region)
            if redacted != value:
                out.iloc[pos] = redacted
    return out
