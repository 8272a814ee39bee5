"""Fast text matching for the keyword and regex builders, with Python ``re`` semantics.

Arrow's compute kernels (RE2 inside) match substrings and regular expressions about ten times
faster than a Python loop and release the GIL, so several LFs run at once. RE2 and Python's ``re``
disagree on a few constructs (``\\w``, ``\\d``, ``\\s`` and ``\\b`` are Unicode-aware in Python and
ASCII in RE2; ``$`` also matches before a final newline in Python; lookarounds and backreferences do
not exist in RE2). :func:`re2_compatible` admits only patterns on which both engines agree; the
rest run through Python's ``re``, so a regex LF means the same thing on either path.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "contains_keywords",
    "python_search",
    "re2_compatible",
    "regex_search",
    "whole_word_pattern",
]

_SAFE_ESCAPES = set("tnrfv")
_REPEAT = re.compile(r"\{\d+(,\d*)?\}")
#: Under IGNORECASE, Python's ``re`` equates 'i'/'I' with the Turkish 'ı' and 'İ' (through their
#: simple case mappings) where RE2's case folding does not.
_TURKIC_I = "iIıİ"


def _ignorecase_form(pattern: str) -> str | None:
    """The pattern RE2 must run to match like Python's ``re`` under IGNORECASE, or None.

    Python folds 'i' and 'I' together with the Turkish 'ı' and 'İ'; RE2 does not. A literal
    'i'/'I' outside a character class becomes ``[iIıİ]``; an i-like letter inside a class (or a
    range that may span one, like ``[a-z]``), a literal 'ı'/'İ', or a code point beyond the BMP
    (Python's case-insensitive classes treat those specially) gives None: use Python.
    """
    out: list[str] = []
    in_class = False
    j, n = 0, len(pattern)
    while j < n:
        c = pattern[j]
        if ord(c) > 0xFFFF or c in "ıİ":
            return None
        if c == "\\":
            if in_class and pattern[j + 1 : j + 2] in _TURKIC_I:
                return None
            out.append(pattern[j : j + 2])
            j += 2
            continue
        if in_class:
            if c in _TURKIC_I:
                return None
            if c == "]":
                in_class = False
            elif c == "-" and 0 < j < n - 1 and pattern[j + 1] != "]":
                lo = "\0" if pattern[j - 1] == "\\" else pattern[j - 1]
                hi = "\U0010ffff" if pattern[j + 1] == "\\" else pattern[j + 1]
                if any(lo <= t <= hi for t in _TURKIC_I):
                    return None
            out.append(c)
            j += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            j += 1
            for lead in "^]":  # "[^" and a leading "]" are not class ends
                if j < n and pattern[j] == lead:
                    out.append(lead)
                    j += 1
            continue
        out.append("[iIıİ]" if c in "iI" else c)
        j += 1
    return "".join(out)


def re2_compatible(pattern: str, flags: int) -> bool:
    """Whether RE2 gives exactly Python's ``re.search`` result for this pattern and flags.

    Conservative: a ``False`` only costs speed, never correctness.
    """
    if flags & ~int(re.IGNORECASE):
        return False
    if flags & re.IGNORECASE and _ignorecase_form(pattern) is None:
        return False
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                return False
            nxt = pattern[i + 1]
            if nxt.isalnum() and nxt not in _SAFE_ESCAPES:
                return False  # \w \d \s \b \A \Z \1 \x.. \u.. \N{..}: semantics differ or absent
            i += 2
            continue
        if c == "$":
            return False  # Python's $ also matches before a trailing newline
        if c == "(" and pattern.startswith("(?", i) and not pattern.startswith("(?:", i):
            return False  # lookarounds, named groups, inline flags, atomic groups
        if c == "{":
            m = _REPEAT.match(pattern, i)
            if m is None:
                return False  # Python reads a malformed repeat as literal text; RE2 may not
            i = m.end()
            if i < n and pattern[i] == "+":
                return False  # possessive repeat
            continue
        if c in "*+?" and i + 1 < n and pattern[i + 1] == "+":
            return False  # possessive quantifier (Python 3.11+), absent in RE2
        if c == "[" and pattern.startswith("[:", i + 1):
            return False  # POSIX class: RE2 reads it, Python treats it as literal characters
        i += 1
    return True


@lru_cache(maxsize=512)
def _compiled(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


@lru_cache(maxsize=512)
def _arrow_accepts(pattern: str, ignore_case: bool) -> bool:
    try:
        pc.match_substring_regex(pa.array([""]), pattern, ignore_case=ignore_case)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _to_bool(result: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.fill_null(result, False).to_numpy(zero_copy_only=False), dtype=bool)


def python_search(values: pa.Array, pattern: str, flags: int) -> npt.NDArray[np.bool_]:
    """``re.search(pattern, s, flags) is not None`` per value; missing values do not match."""
    rx = _compiled(pattern, flags)
    search = rx.search
    return np.fromiter(
        (s is not None and search(s) is not None for s in values.to_pylist()),
        dtype=bool,
        count=len(values),
    )


def regex_search(values: pa.Array, pattern: str, flags: int = 0) -> npt.NDArray[np.bool_]:
    """Rows whose text contains a match of ``pattern`` (Python ``re.search`` semantics)."""
    ignore_case = bool(flags & re.IGNORECASE)
    if re2_compatible(pattern, flags):
        re2_pattern = _ignorecase_form(pattern) if ignore_case else pattern
        if re2_pattern is not None and _arrow_accepts(re2_pattern, ignore_case):
            return _to_bool(pc.match_substring_regex(values, re2_pattern, ignore_case=ignore_case))
    return python_search(values, pattern, flags)


_WORD = r"\pL\pN_"


def whole_word_pattern(keywords: tuple[str, ...]) -> str:
    """RE2 pattern: any keyword not preceded or followed by a letter, digit or underscore."""
    alternatives = "|".join(re.escape(k) for k in keywords)
    return f"(?:^|[^{_WORD}])(?:{alternatives})(?:[^{_WORD}]|$)"


def contains_keywords(
    values: pa.Array, keywords: tuple[str, ...], *, case_sensitive: bool, whole_word: bool
) -> npt.NDArray[np.bool_]:
    """Rows whose text contains any of ``keywords``.

    Case-insensitive matching uses Unicode simple case folding, which agrees with
    ``keyword in text.lower()`` except on a few special letters (e.g. 'İ', 'ſ', the Kelvin sign).
    """
    ignore_case = not case_sensitive
    if whole_word:
        pattern = whole_word_pattern(keywords)
        return _to_bool(pc.match_substring_regex(values, pattern, ignore_case=ignore_case))
    hit: npt.NDArray[np.bool_] | None = None
    for kw in keywords:
        m = _to_bool(pc.match_substring(values, kw, ignore_case=ignore_case))
        hit = m if hit is None else (hit | m)
    assert hit is not None
    return hit
