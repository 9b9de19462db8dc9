"""Global ids and cursors: the documented encoding, round trips, and refusal of anything else.

Expected encodings are built here from the documented format (hub/engine/ids.py docstring):
base64url without padding of ``source:entity:key``, and of the JSON list
``[order, day, source, key]`` for a cursor.
"""

from __future__ import annotations

import base64
import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.engine.ids import (
    MAX_TEXT,
    GlobalId,
    InvalidId,
    decode_cursor,
    decode_number_cursor,
    decode_position,
    encode_cursor,
    encode_id,
    encode_number_cursor,
    encode_position,
)
from hub.vocabulary.model import Entity, Keyset, SortOrder


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_an_id_is_base64url_of_source_entity_key_without_padding() -> None:
    assert encode_id("polri", Entity.CASE, "LP/B/123/2023") == b64("polri:case:LP/B/123/2023")
    # Only padding is stripped, never a letter: this encoding ends in "X".
    assert encode_id("polri", Entity.CASE, "W") == "cG9scmk6Y2FzZTpX"
    assert GlobalId.decode("cG9scmk6Y2FzZTpX").key == "W"
    assert "=" not in encode_id("ab", Entity.CASE, "k")
    assert GlobalId.decode(b64("polri:case:LP/B/1:2")) == GlobalId("polri", Entity.CASE, "LP/B/1:2")
    # The URL-safe alphabet: '-' and '_' where standard base64 writes '+' and '/' (an id travels
    # in URLs and query strings).
    assert encode_id("polri", Entity.CASE, ">>>???") == "cG9scmk6Y2FzZTo-Pj4_Pz8"


# Lone surrogates (category Cs) are not Unicode scalar values: UTF-8 cannot encode them, and no
# database driver returns them in a key or a source name, so they are no input an id can hold.
@given(
    source=st.text(
        st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), min_size=1, max_size=20
    ),
    entity=st.sampled_from(list(Entity)),
    key=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60),
)
def test_ids_round_trip(source: str, entity: Entity, key: str) -> None:
    gid = GlobalId(source, entity, key)
    assert GlobalId.decode(gid.encode()) == gid


@pytest.mark.parametrize(
    "text",
    [
        b64("polri:case:"),  # no key
        b64(":case:k"),  # no source
        b64("polri:case"),  # no second separator
        b64("polri"),
        b64("polri:nothing:k"),  # not an entity
        "***",  # not base64
        base64.urlsafe_b64encode(b"\xff\xfe:case:k").decode(),  # not UTF-8
        "a" * (MAX_TEXT + 1),  # longer than any id the hub makes
    ],
)
def test_malformed_ids_are_refused(text: str) -> None:
    with pytest.raises(InvalidId) as raised:
        GlobalId.decode(text)
    assert str(raised.value) == "malformed id"


def test_an_id_of_exactly_the_longest_length_is_decoded() -> None:
    long_key = "x" * (MAX_TEXT * 3 // 4 - len("polri:case:"))
    long_text = b64(f"polri:case:{long_key}")
    assert len(long_text) == MAX_TEXT
    assert GlobalId.decode(long_text).key == long_key


@pytest.mark.parametrize("order", list(SortOrder))
@pytest.mark.parametrize("day", [date(2023, 1, 31), None])
def test_cursor_is_the_documented_json_and_round_trips(order: SortOrder, day: date | None) -> None:
    position = Keyset(day, "polri", "LP/B/7/2023")
    text = encode_cursor(order, position)
    expected = [order.value, day.isoformat() if day else None, "polri", "LP/B/7/2023"]
    assert text == b64(json.dumps(expected, separators=(",", ":")))
    assert decode_cursor(text, order) == position


@pytest.mark.parametrize("order", list(SortOrder))
def test_a_cursor_is_refused_under_another_order(order: SortOrder) -> None:
    text = encode_cursor(order, Keyset(date(2023, 1, 1), "polri", "k"))
    for other in SortOrder:
        if other is not order:
            with pytest.raises(InvalidId) as raised:
                decode_cursor(text, other)
            assert str(raised.value) == "cursor was produced for another order"


@pytest.mark.parametrize(
    "payload",
    [
        '["desc", "2023-01-01", "polri"]',  # three items
        '["desc", "2023-13-01", "polri", "k"]',  # no such date
        '["desc", "2023-01-01", 5, "k"]',  # source not text
        '["desc", "2023-01-01", "polri", 7]',  # key not text
        '["desc", 20230101, "polri", "k"]',  # day not text
        "{}",
        "not json",
        "[" * 5000 + "]" * 5000,  # deeply nested
    ],
)
def test_malformed_cursors_are_refused(payload: str) -> None:
    with pytest.raises(InvalidId) as raised:
        decode_cursor(b64(payload), SortOrder.DESC)
    assert str(raised.value) == "malformed cursor"


def test_a_cursor_that_is_not_base64_is_refused() -> None:
    with pytest.raises(InvalidId) as raised:
        decode_cursor("!!!", SortOrder.DESC)
    assert str(raised.value) == "malformed cursor"


# --- number cursors (persons, audit entries) and the shared position codec ---------------------


def test_a_number_cursor_is_the_compact_json_of_its_list_and_number() -> None:
    assert encode_number_cursor("persons", 5) == b64('["persons",5]')  # no spaces: compact JSON
    assert encode_position("audit", "2023-01-31", 7, None) == b64('["audit","2023-01-31",7,null]')
    assert decode_number_cursor(b64('["persons",5]'), "persons") == 5
    assert decode_number_cursor(b64('["persons", 5]'), "persons") == 5  # any JSON spacing decodes


@pytest.mark.parametrize("number", [0, 1, 2**63 - 1])
def test_number_cursors_round_trip_over_the_bigint_range(number: int) -> None:
    assert decode_number_cursor(encode_number_cursor("audit", number), "audit") == number


@pytest.mark.parametrize(
    "payload",
    [
        '["audit",-1]',  # below a BIGINT id
        f'["audit",{2**63}]',  # beyond it
        '["audit","5"]',  # a number as text
        '["audit",true]',  # a boolean is no number
        '["audit",null]',
        '["audit",1.5]',
        '["audit",[1]]',
        '["audit",1,2]',  # too many values
        '["audit"]',
        '"audit"',
    ],
)
def test_malformed_number_cursors_are_refused(payload: str) -> None:
    with pytest.raises(InvalidId) as raised:
        decode_number_cursor(b64(payload), "audit")
    assert str(raised.value) == "malformed cursor"


def test_a_number_cursor_of_another_list_is_refused_by_name() -> None:
    with pytest.raises(InvalidId) as raised:
        decode_number_cursor(encode_number_cursor("persons", 5), "audit")
    assert str(raised.value) == "cursor was produced for another list"
    with pytest.raises(InvalidId) as raised:
        decode_position(encode_position("persons", 5), "audit", 1, other_kind="the persons list")
    assert str(raised.value) == "cursor was produced for the persons list"


def test_an_overlong_cursor_is_a_malformed_cursor() -> None:
    with pytest.raises(InvalidId) as raised:
        decode_number_cursor("a" * (MAX_TEXT + 1), "audit")
    assert str(raised.value) == "malformed cursor"
