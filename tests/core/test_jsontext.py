"""`loads_unicode_json` refuses exactly the documents holding a string that is not Unicode,
whichever way the surrogate arrives (escape or raw bytes) and whatever the encoding."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.jsontext import loads_unicode_json

# Texts drawn from every code point, lone surrogates included (and favoured).
ANY_TEXT = st.text(
    st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),
    max_size=8,
)
DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)


def is_unicode(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def refused(body: bytes | str) -> bool:
    try:
        loads_unicode_json(body)
    except ValueError:
        return True
    return False


@given(DOCUMENTS, st.sampled_from(["escaped", "utf-8", "utf-16-le", "utf-16-be", "utf-32"]))
def test_refused_exactly_when_a_string_is_not_unicode(data: Any, spelling: str) -> None:
    if spelling == "escaped":
        body: bytes = json.dumps(data).encode("ascii")
    else:
        body = json.dumps(data, ensure_ascii=False).encode(spelling, "surrogatepass")
    assert refused(body) is not is_unicode(data)
    if is_unicode(data):
        assert loads_unicode_json(body) == json.loads(body)


@pytest.mark.parametrize("body", [b'{"name": "\\ud800"}', b'["\\uDFFF"]', b'{"\\ud83d": 1}',
                                  b'"\xed\xa0\x80"'])
def test_named_lone_surrogates_are_refused(body: bytes) -> None:
    assert refused(body)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_raw_surrogate_in_a_wider_encoding_is_refused(encoding: str) -> None:
    body = '{"name": "\ud800"}'.encode(encoding, "surrogatepass")
    assert json.loads(body)["name"] == "\ud800"  # what json.loads alone lets through
    assert refused(body)


def test_a_proper_pair_is_one_character() -> None:
    assert loads_unicode_json(b'"\\ud83d\\ude00"') == "\U0001f600"
