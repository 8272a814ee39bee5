"""The Arrow/RE2 text matching fast path and its agreement with Python's ``re`` and ``in``."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weakflow.labeling._text import (
    contains_keywords,
    python_search,
    re2_compatible,
    regex_search,
    whole_word_pattern,
)

# Letters on which engines are known to be touchy: case-folding specials (Turkish i's, long s,
# Kelvin sign, micro sign, final sigma, sharp s), other scripts, a letter beyond the BMP.
SPECIAL_LETTERS = list("aAbBcxyzéÉñÑßẞσςΣжЖıİiIsSſkKKµμ字😀𐐀𐐨")
PUNCTUATION = list(" .+?*()[]{}|\n\t")
CASE_TRAPS = list("ıİſKµςẞ𐐨")


def py_search(values, pattern, flags):
    rx = re.compile(pattern, flags)
    return [v is not None and rx.search(v) is not None for v in values]


# -- a small grammar of RE2-compatible regular expressions ------------------------------------
_literal = st.one_of(
    st.sampled_from(SPECIAL_LETTERS + list("0123456789 -,:")),
    st.sampled_from([r"\.", r"\+", r"\?", r"\*", r"\(", r"\)", r"\[", r"\|", r"\t", r"\n"]),
)
_range = st.sampled_from(
    ["a-z", "A-Z", "0-9", "a-c", "x-z", "à-ÿ", "α-ω", "Α-Ω", "а-я", "h-j", "r-t", "j-l"]
)
_char_class = st.builds(
    lambda neg, items: "[" + ("^" if neg else "") + "".join(items) + "]",
    st.sampled_from([False, False, False, True]),
    st.lists(st.one_of(_range, st.sampled_from(SPECIAL_LETTERS)), min_size=1, max_size=3),
)


# Mostly no quantifier, so that patterns are not trivially matched by the empty string.
_quantifier = st.sampled_from(
    ["", "", "", "", "", "", "+", "*", "?", "+?", "*?", "{2}", "{1,2}", "{0,1}", "{2,}", "{1,3}"]
)


def _regex(atoms):
    piece = st.builds(lambda a, q: a + q, atoms, _quantifier)
    branch = st.lists(piece, min_size=1, max_size=4).map("".join)
    return st.one_of(branch, branch, st.lists(branch, min_size=2, max_size=3).map("|".join))


_atom = st.recursive(
    st.one_of(_literal, _literal, _literal, _literal, _char_class, _char_class, st.just(".")),
    lambda inner: st.builds(
        lambda opener, body: opener + body + ")", st.sampled_from(["(", "(?:"]), _regex(inner)
    ),
    max_leaves=3,
)
safe_patterns = st.builds(
    lambda anchor, body: anchor + body, st.sampled_from(["", "", "", "^"]), _regex(_atom)
)

texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(SPECIAL_LETTERS + PUNCTUATION), st.characters(codec="utf-8")
    ),
    max_size=12,
)


def texts_for(pattern):
    """Texts likely to discriminate: the pattern's letters in both cases, case-folding traps,
    punctuation, and any other character."""
    letters = {c for c in pattern if c.isalpha()}
    variants = {v for c in letters for v in (c, c.lower(), c.upper(), c.swapcase()) if len(v) == 1}
    alphabet = st.one_of(
        st.sampled_from(sorted(variants) + CASE_TRAPS + PUNCTUATION),
        st.characters(codec="utf-8"),
    )
    return st.lists(st.one_of(st.text(alphabet, max_size=10), st.none()), min_size=1, max_size=8)


class TestRegexAgreesWithPython:
    @settings(max_examples=100, deadline=None)
    @given(data=st.data(), pattern=safe_patterns, ignore_case=st.booleans())
    def test_regex_search_equals_python_re(self, data, pattern, ignore_case):
        flags = re.IGNORECASE if ignore_case else 0
        values = data.draw(texts_for(pattern), label="values")
        arr = pa.array(values, type=pa.string())
        expected = py_search(values, pattern, flags)
        assert regex_search(arr, pattern, flags).tolist() == expected
        if re2_compatible(pattern, flags):
            # the Arrow engine itself, not the Python fallback, gives Python's answer
            raw = pc.match_substring_regex(arr, pattern, ignore_case=ignore_case)
            assert [bool(v) for v in raw.fill_null(False).to_pylist()] == expected

    @settings(max_examples=100, deadline=None)
    @given(
        pattern=st.one_of(st.sampled_from(SPECIAL_LETTERS), _char_class),
        values=st.lists(
            st.text(st.sampled_from(SPECIAL_LETTERS + CASE_TRAPS), max_size=3), min_size=1
        ),
    )
    def test_case_insensitive_letters_and_classes(self, pattern, values):
        # focused on case folding: one letter or one class against short texts of tricky letters
        arr = pa.array(values, type=pa.string())
        assert regex_search(arr, pattern, re.I).tolist() == py_search(values, pattern, re.I)

    @settings(max_examples=60, deadline=None)
    @given(pattern=safe_patterns)
    def test_grammar_patterns_are_accepted_without_ignorecase(self, pattern):
        # the grammar only uses constructs both engines read the same way
        assert re2_compatible(pattern, 0)

    @pytest.mark.parametrize(
        ("pattern", "text"),
        [
            ("[a-z]", "İ"),
            ("[h-j]", "ı"),
            ("[a𐐀]", "𐐨"),  # Python's case-insensitive classes with non-BMP members
        ],
    )
    def test_ignorecase_patterns_where_the_engines_differ_use_python(self, pattern, text):
        values = pa.array([text, "zzz", None])
        expected = py_search([text, "zzz", None], pattern, re.I)
        assert regex_search(values, pattern, re.I).tolist() == expected
        assert not re2_compatible(pattern, re.I)
        assert re2_compatible(pattern, 0)

    @pytest.mark.parametrize(
        ("pattern", "text"),
        [
            ("i", "ı"),  # Python: 'ı'.upper() == 'I'
            ("I", "İ"),  # Python: 'İ' lowercases to 'i'
            ("click", "clİck"),
            ("cl(?:i|x)ck+", "CLıCKK"),
        ],
    )
    def test_ignorecase_literal_i_is_rewritten_for_re2_and_agrees(self, pattern, text):
        # A literal i/I outside a class runs on RE2 as [iIıİ], which is what Python matches.
        values = pa.array([text, "zzz", None, text.upper()])
        expected = py_search([text, "zzz", None, text.upper()], pattern, re.I)
        assert regex_search(values, pattern, re.I).tolist() == expected
        assert re2_compatible(pattern, re.I)

    @pytest.mark.parametrize(
        "pattern", ["check.*out", "[a-h]+", "(?:sub|scr){1,2}", "[0-9]", "σοφ", "é+"]
    )
    def test_ignorecase_patterns_without_i_stay_on_the_fast_path(self, pattern):
        assert re2_compatible(pattern, re.I)

    def test_python_search_handles_nulls(self):
        values = pa.array(["abc", None, "x"])
        assert python_search(values, "b", 0).tolist() == [True, False, False]

    def test_regex_search_on_an_all_null_array(self):
        values = pa.nulls(3, pa.large_string())
        assert regex_search(values, "a", 0).tolist() == [False, False, False]
        assert regex_search(values, r"\w", 0).tolist() == [False, False, False]


def _surround(inner):
    """A pattern from the safe grammar with ``inner`` spliced in outside any class."""
    return st.builds(lambda a, b: a + inner + b, safe_patterns, safe_patterns)


class TestRe2CompatibleRejects:
    @settings(max_examples=60, deadline=None)
    @given(
        data=st.data(),
        construct=st.sampled_from(
            [
                *(r"\w", r"\W", r"\d", r"\D", r"\s", r"\S", r"\b", r"\B", r"\Z", r"\A", r"\1"),
                *("$", "(?=x)", "(?!x)", "(?<=x)", "(?<!x)", "(?P<n>x)", "(?i)", "(?>x)"),
                *("x*+", "x{2}+"),
            ]
        ),
        flags=st.sampled_from([0, re.IGNORECASE]),
    )
    def test_constructs_with_different_semantics(self, data, construct, flags):
        pattern = data.draw(_surround(construct))
        assert not re2_compatible(pattern, flags)

    @pytest.mark.parametrize("flags", [re.M, re.S, re.X, re.A, re.I | re.M])
    def test_other_flags(self, flags):
        assert not re2_compatible("abc", flags)

    @pytest.mark.parametrize("pattern", ["a{", "a{x}", "a{,3}", "[[:alpha:]]", "abc\\"])
    def test_constructs_python_reads_as_literals_or_rejects(self, pattern):
        assert not re2_compatible(pattern, 0)

    @pytest.mark.parametrize(
        "pattern", [r"a\.b", r"\t", r"x{2,3}", "(?:ab)+", "[^a-z]", r"\(paren\)", "^start"]
    )
    def test_accepts(self, pattern):
        assert re2_compatible(pattern, 0)


ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=15)
ascii_keyword = st.text(alphabet=st.sampled_from("abAB c.*"), min_size=1, max_size=3)


class TestContainsKeywords:
    @settings(max_examples=100, deadline=None)
    @given(
        values=st.lists(st.one_of(texts, st.none()), min_size=1, max_size=8),
        keywords=st.lists(
            st.text(
                alphabet=st.sampled_from(SPECIAL_LETTERS + PUNCTUATION), min_size=1, max_size=3
            ),
            min_size=1,
            max_size=3,
        ),
    )
    def test_case_sensitive_equals_python_in(self, values, keywords):
        arr = pa.array(values, type=pa.string())
        got = contains_keywords(arr, tuple(keywords), case_sensitive=True, whole_word=False)
        expected = [v is not None and any(k in v for k in keywords) for v in values]
        assert got.tolist() == expected

    @settings(max_examples=100, deadline=None)
    @given(
        values=st.lists(st.one_of(ascii_text, st.none()), min_size=1, max_size=8),
        keywords=st.lists(ascii_keyword, min_size=1, max_size=3),
    )
    def test_case_insensitive_equals_lowered_in_for_ascii(self, values, keywords):
        arr = pa.array(values, type=pa.string())
        got = contains_keywords(arr, tuple(keywords), case_sensitive=False, whole_word=False)
        expected = [v is not None and any(k.lower() in v.lower() for k in keywords) for v in values]
        assert got.tolist() == expected

    @settings(max_examples=60, deadline=None)
    @given(
        values=st.lists(
            st.text(alphabet=st.sampled_from("ab_1é .!\n"), max_size=10), min_size=1, max_size=8
        ),
        keywords=st.lists(
            st.text(alphabet=st.sampled_from("ab."), min_size=1, max_size=2), min_size=1, max_size=2
        ),
        case_sensitive=st.booleans(),
    )
    def test_whole_word_matches_the_documented_rule(self, values, keywords, case_sensitive):
        # "not preceded or followed by a letter, digit or underscore", written in plain Python
        def is_word_char(c):
            return c.isalpha() or c.isdigit() or c == "_"

        def hit(v):
            hay = v if case_sensitive else v.lower()
            for k in keywords:
                k = k if case_sensitive else k.lower()
                start = hay.find(k)
                while start != -1:
                    end = start + len(k)
                    before_ok = start == 0 or not is_word_char(hay[start - 1])
                    after_ok = end == len(hay) or not is_word_char(hay[end])
                    if before_ok and after_ok:
                        return True
                    start = hay.find(k, start + 1)
            return False

        arr = pa.array(values, type=pa.string())
        got = contains_keywords(
            arr, tuple(keywords), case_sensitive=case_sensitive, whole_word=True
        )
        assert got.tolist() == [hit(v) for v in values]

    def test_whole_word_pattern_escapes_keywords(self):
        pattern = whole_word_pattern(("a.b", "c+"))
        assert r"a\.b" in pattern
        assert r"c\+" in pattern

    def test_nulls_never_match(self):
        arr = pa.array([None, "x"], type=pa.string())
        for whole_word in (False, True):
            for case_sensitive in (False, True):
                got = contains_keywords(
                    arr, ("x",), case_sensitive=case_sensitive, whole_word=whole_word
                )
                assert got.tolist() == [False, True]
