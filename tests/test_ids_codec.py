"""Global ids and cursors encode as they always did, without per-call set-up (hub/engine/ids.py, issue 13).

A portal page encodes ~50 ids and 20 cursors. The codec now builds no ``GlobalId`` object and no
JSON encoder per call and base64-encodes through :mod:`binascii` directly; the texts must be
exactly those of the standard library's ``base64.urlsafe_b64encode`` and ``json.dumps``, so every
id and cursor a client holds stays valid.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.engine import ids
from hub.vocabulary.model import Entity, Keyset, SortOrder

TEXT = st.text(max_size=60)


@given(st.sampled_from(["simfoni", "polri", "kemlu"]), st.sampled_from(list(Entity)), TEXT)
def test_ids_are_the_standard_base64url_of_source_entity_key(source: str, entity: Entity, key: str) -> None:
    expected = base64.urlsafe_b64encode(f"{source}:{entity.value}:{key}".encode()).decode().rstrip("=")
    assert ids.encode_id(source, entity, key) == expected
    assert ids.GlobalId(source, entity, key).encode() == expected
    if key:
        assert ids.GlobalId.decode(expected) == ids.GlobalId(source, entity, key)


@given(
    st.sampled_from(list(SortOrder)),
    st.none() | st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    TEXT,
    TEXT,
)
def test_cursors_are_the_standard_json_in_base64url(
    order: SortOrder, day: date | None, source: str, key: str
) -> None:
    payload = [order.value, day.isoformat() if day else None, source, key]
    expected = (
        base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    )
    cursor = ids.encode_cursor(order, Keyset(day, source, key))
    assert cursor == expected
    assert ids.decode_cursor(cursor, order) == Keyset(day, source, key)


def test_encoding_builds_no_json_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    built = [0]
    real = json.JSONEncoder.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built[0] += 1
        real(self, *args, **kwargs)

    monkeypatch.setattr(json.JSONEncoder, "__init__", counting)
    for n in range(20):
        ids.encode_cursor(SortOrder.DESC, Keyset(date(2024, 1, 1), "simfoni", str(n)))
    assert built[0] == 0
