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
        return _b64(f"{self.source}:{self.entity.value}:{self.key}")

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
    """The opaque global id of a record."""
    return GlobalId(source, entity, key).encode()


def encode_cursor(order: SortOrder, position: Keyset) -> str:
    """The cursor after ``position`` in ``order``."""
    day = position.reported_at.isoformat() if position.reported_at else None
    return _b64(json.dumps([order.value, day, position.source, position.key], separators=(",", ":")))


def decode_cursor(text: str, order: SortOrder) -> Keyset:
    """The keyset position in a cursor; :class:`InvalidId` if it is not one of ours."""
    try:
        kind, day, source, key = json.loads(_unb64(text))
        when = date.fromisoformat(day) if day is not None else None
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidId("malformed cursor") from exc
    if not isinstance(source, str) or not isinstance(key, str):
        raise InvalidId("malformed cursor")
    if kind != order.value:
        raise InvalidId("cursor was produced for another order")
    return Keyset(when, source, key)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    if len(text) > MAX_TEXT:
        raise InvalidId("malformed id")
    try:
        padded = text + "=" * (-len(text) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidId("malformed id") from None
