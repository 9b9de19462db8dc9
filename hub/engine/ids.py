"""Global ids and page cursors: opaque to clients, stable, decodable by the hub.

A global id names the source, the entity and the source's own key —
``polri:case:LP/B/123/2023`` — and is sent base64url-encoded so clients treat it as opaque.
It survives restarts because it holds nothing but what the agency's database already has.

A cursor holds the keyset position of the last case of a page (its report date, source and
key) and the order it was produced in, so a cursor cannot be replayed under another order.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.vocabulary.model import Entity, Keyset, SortOrder


class InvalidId(ValueError):
    """An id or cursor that the hub did not produce."""


#: Longest id or cursor text the hub decodes: its own are far shorter (an agency key, a date).
MAX_TEXT = 2048


@dataclass(frozen=True, slots=True)
class GlobalId:
    """A record's identity across the hub."""

    source: str
    entity: Entity
    key: str

    def encode(self) -> str:
        return encode_id(self.source, self.entity, self.key)

    @classmethod
    def decode(cls, text: str) -> GlobalId:
        raw = _unb64(text)
        source, sep1, rest = raw.partition(":")
        kind, sep2, key = rest.partition(":")
        if not (sep1 and sep2 and source and key):
            raise InvalidId("malformed id")
        try:
            entity = Entity(kind)
        except ValueError:
            raise InvalidId("malformed id") from None
        return cls(source, entity, key)


def encode_id(source: str, entity: Entity, key: str) -> str:
    """The opaque global id of a record (a page encodes ~50: no object is built for it)."""
    return _b64(f"{source}:{_ENTITY_TEXT[entity]}:{key}")


def encode_position(kind: str, *values: str | int | None) -> str:
    """An opaque cursor: the list (and order) that made it, and the position in it.

    The one cursor codec of the hub: every connection (cases in each order, persons, audit
    entries) encodes its position here, so every cursor is bounded, typed and checked alike.
    """
    return _b64(_CURSOR_JSON.encode([kind, *values]))


def decode_position(text: str, kind: str, arity: int, *, other_kind: str = "another list") -> list[Any]:
    """The ``arity`` values of a cursor made by :func:`encode_position` for ``kind``.

    :class:`InvalidId` if the text is not one of the hub's cursors ("malformed cursor") or was
    made for another list or order (``other_kind`` names it in the message).
    """
    try:
        payload = json.loads(_unb64(text))
    except (InvalidId, ValueError, TypeError, RecursionError):
        raise InvalidId("malformed cursor") from None
    if (
        not isinstance(payload, list)
        or len(payload) != arity + 1
        or not all(v is None or (isinstance(v, str | int) and not isinstance(v, bool)) for v in payload)
    ):
        raise InvalidId("malformed cursor")
    if payload[0] != kind:
        raise InvalidId(f"cursor was produced for {other_kind}")
    return payload[1:]


def encode_cursor(order: SortOrder, position: Keyset) -> str:
    """The cursor after ``position`` in ``order``."""
    day = position.reported_at.isoformat() if position.reported_at else None
    return encode_position(order.value, day, position.source, position.key)


def decode_cursor(text: str, order: SortOrder) -> Keyset:
    """The keyset position in a cursor; :class:`InvalidId` if it is not one of ours."""
    day, source, key = decode_position(text, order.value, 3, other_kind="another order")
    if not isinstance(source, str) or not isinstance(key, str) or not isinstance(day, str | None):
        raise InvalidId("malformed cursor")
    try:
        when = date.fromisoformat(day) if day is not None else None
    except ValueError:
        raise InvalidId("malformed cursor") from None
    return Keyset(when, source, key)


def encode_number_cursor(kind: str, number: int) -> str:
    """The cursor after item ``number`` of a list ordered by a BIGINT (persons, audit entries)."""
    return encode_position(kind, number)


def decode_number_cursor(text: str, kind: str) -> int:
    """The number in a cursor of :func:`encode_number_cursor`; a BIGINT (0 ≤ n < 2**63)."""
    (number,) = decode_position(text, kind, 1)
    if not isinstance(number, int) or not 0 <= number < 2**63:
        raise InvalidId("malformed cursor")
    return number


#: ``Entity.value`` is a descriptor call; a page encodes ~50 ids.
_ENTITY_TEXT: dict[Entity, str] = {e: e.value for e in Entity}
#: ``json.dumps(..., separators=(",", ":"))`` builds this encoder on every call; one is enough.
_CURSOR_JSON = json.JSONEncoder(separators=(",", ":"))
#: Standard base64 → its URL-safe alphabet (what ``base64.urlsafe_b64encode`` translates).
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(text: str) -> str:
    """``base64.urlsafe_b64encode`` without padding, straight from :mod:`binascii` (same bytes)."""
    return binascii.b2a_base64(text.encode(), newline=False).translate(_URLSAFE).decode().rstrip("=")


def _unb64(text: str) -> str:
    if len(text) > MAX_TEXT:
        raise InvalidId("malformed id")
    try:
        padded = text + "=" * (-len(text) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidId("malformed id") from None
