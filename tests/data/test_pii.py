"""PII detection: each entity found, look-alikes left alone, redaction leaves nothing behind."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from weakflow.data import PII_ENTITIES, PIISpan, find_pii, redact_pii, scan_pii
from weakflow.errors import SchemaError

TRUE_POSITIVES = {
    "EMAIL_ADDRESS": [
        "ann@example.org",
        "john.doe+news@mail.co.uk",
        "x_y-z@sub.domain.io",
        "4155552671@example.com",  # digits inside an email: one email, not a phone
    ],
    "PHONE_NUMBER": [
        "415-555-2671",
        "(212) 555-0100",
        "+1 800 555 0199",
        "+44 20 7946 0958",
        "+49 30 901820",
        "+33 6 12 34 56 78",
    ],
    "CREDIT_CARD": [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500005555555559",
        "3782 822463 10005",  # Amex grouping 4-6-5
        "6011 0009 9013 9424",
    ],
    "IBAN_CODE": [
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NL91ABNA0417164300",
        "IT60X0542811101000000123456",
    ],
    "IP_ADDRESS": [
        "192.168.1.1",
        "8.8.8.8",
        "2001:db8::8a2e:370:7334",
        "2001:db8:0:0:0:0:2:1",
        "::1",
    ],
}

NEAR_MISSES = [
    "order 4111 1111 1111 1112",  # fails Luhn
    "order #1234567812345678",  # 16 digits, fails Luhn
    "0000 0000 0000 0000",  # passes Luhn, but no card is all zeros
    "DE88 3704 0044 0532 0130 00",  # wrong IBAN check digits
    "GB82 WEST 1234 5698 7654 33",
    "ip 999.1.1.1",
    "10.0.0.256",
    "version 1.2.3",
    "v1.2.3.4",
    "release 1.2.3.4.5",
    "cafe::babe",
    "at 12:30:45",
    "MAC 00:1a:2b:3c:4d:5e",
    "released in 2021",
    "from 1999 to 2005",
    "date 2021-03-04 and 03/04/2021",
    "pi is 3.14159",
    "call 12345",
    "room 101, 1,000,000 users",
    "ISBN 978-3-16-148410-0",
    "zip 94103-1234",
    "user@localhost",
    "a @ b",
]


@pytest.mark.parametrize(
    ("entity", "value"), [(e, v) for e, values in TRUE_POSITIVES.items() for v in values]
)
def test_each_entity_is_found_with_its_span(entity, value):
    text = f"Contact: {value}. Thanks"
    spans = find_pii(text)
    assert spans == [PIISpan(entity, 9, 9 + len(value))]
    assert text[spans[0].start : spans[0].end] == value


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_look_alikes_are_not_pii(text):
    assert find_pii(text) == []


def test_region_decides_numbers_without_country_code():
    text = "ring 020 7946 0958"
    assert find_pii(text) == []
    assert [s.entity for s in find_pii(text, region="GB")] == ["PHONE_NUMBER"]
    with pytest.raises(SchemaError, match="region"):
        scan_pii([text], region="XX")


def test_spans_are_sorted_and_disjoint():
    text = "ann@example.org, 415-555-2671, 10.0.0.1 and DE89370400440532013000"
    spans = find_pii(text)
    assert [s.entity for s in spans] == [
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "IP_ADDRESS",
        "IBAN_CODE",
    ]
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_scan_counts_rows_and_entities():
    texts = [
        "no personal data here",
        "mail ann@example.org or bob@example.com",
        None,
        float("nan"),
        "card 4111 1111 1111 1111 from 10.0.0.1",
        "nothing 2021",
    ]
    scan = scan_pii(texts)
    assert scan.counts == {
        "EMAIL_ADDRESS": 2,
        "IBAN_CODE": 0,
        "CREDIT_CARD": 1,
        "IP_ADDRESS": 1,
        "PHONE_NUMBER": 0,
    }
    assert set(scan.counts) == set(PII_ENTITIES)
    assert scan.rows == (1, 4)
    assert scan.rows_by_entity["EMAIL_ADDRESS"] == (1,)
    assert scan.rows_by_entity["IP_ADDRESS"] == (4,)
    assert scan.total == 4
    assert scan.n_texts == 6
    assert scan.found
    assert not scan_pii(["plain text"]).found
    as_dict = scan.to_dict(max_rows=1)
    assert as_dict["rows"] == [1]
    assert as_dict["rows_affected"] == 2
    assert as_dict["rows_affected_by_entity"]["EMAIL_ADDRESS"] == 1
    assert as_dict["counts"]["EMAIL_ADDRESS"] == 2
    assert json.loads(json.dumps(as_dict)) == as_dict


def test_redaction_replaces_each_span_and_keeps_missing_values():
    texts = pd.Series(
        ["mail ann@example.org now", None, "call +44 20 7946 0958 or 415-555-2671", "plain"],
        index=[10, 11, 12, 13],
        name="text",
        dtype="str",
    )
    out = redact_pii(texts)
    assert out.index.equals(texts.index)
    assert out.name == "text"
    assert out.dtype == texts.dtype
    assert out.iloc[0] == "mail <EMAIL_ADDRESS> now"
    assert pd.isna(out.iloc[1])
    assert out.iloc[2] == "call <PHONE_NUMBER> or <PHONE_NUMBER>"
    assert out.iloc[3] == "plain"
    assert texts.iloc[0] == "mail ann@example.org now"  # the input is not modified


def test_redaction_round_trip_every_entity():
    values = [v for vs in TRUE_POSITIVES.values() for v in vs]
    texts = pd.Series([f"see {v} here" for v in values], dtype=object)
    out = redact_pii(texts)
    entities = [e for e, vs in TRUE_POSITIVES.items() for _ in vs]
    assert out.tolist() == [f"see <{e}> here" for e in entities]
    assert scan_pii(out).total == 0


def test_redact_needs_a_series():
    with pytest.raises(TypeError, match=r"pd\.Series"):
        redact_pii(["ann@example.org"])  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------

_PIECES = st.one_of(
    st.sampled_from([v for vs in TRUE_POSITIVES.values() for v in vs]),
    st.sampled_from(NEAR_MISSES),
    st.text(alphabet="0123456789 .-:@+()abcXYZ", max_size=12),
    st.text(max_size=8),
)
_TEXTS = st.lists(_PIECES, max_size=8).map(" ".join) | st.lists(_PIECES, max_size=8).map("".join)


def _redact(text: str) -> str:
    return str(redact_pii(pd.Series([text], dtype=object)).iloc[0])


@given(_TEXTS)
def test_redacted_text_has_no_pii_left(text):
    redacted = _redact(text)
    assert find_pii(redacted) == []
    assert scan_pii([redacted]).total == 0


@given(st.text().filter(lambda s: "@" not in s and not any(c.isdigit() for c in s)))
def test_text_without_digits_or_at_is_unchanged(text):
    assert find_pii(text) == []
    assert _redact(text) == text


@given(st.text())
def test_spans_are_valid_for_any_text(text):
    spans = find_pii(text)
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
        assert span.entity in PII_ENTITIES
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_scan_accepts_numpy_and_series_input():
    arr = np.array(["ann@example.org", None], dtype=object)
    assert scan_pii(arr).rows == (0,)
    assert scan_pii(pd.Series(arr)).rows == (0,)
