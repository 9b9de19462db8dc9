"""The hub as an Apollo Federation v2 subgraph: _service and batched _entities."""

from __future__ import annotations

from typing import Any

from hub.engine.ids import encode_id
from hub.vocabulary.model import Entity
from tests.helpers import EVERY_ROW

ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Case { id sourceKey agency { code } victims { sex } stageHistory { stage } }
  ... on PersonRecord { id roles }
  ... on Agency { code name }
} }"""


async def test_service_sdl_declares_the_entities(hub: Any) -> None:
    result = await hub.execute("{ _service { sdl } }")
    sdl = result.data["_service"]["sdl"]
    assert '@key(fields: "id")' in sdl and '@key(fields: "code")' in sdl
    assert "type Case implements Node @key" in sdl


async def test_entities_resolve_in_batches(hub: Any, truth: dict) -> None:
    polri = truth["agencies"]["polri"]["cases"][:40]
    victims = [p for p in truth["agencies"]["polri"]["persons"] if p["roles"] == ["VICTIM"]][:5]
    representations = [{"__typename": "Case", "id": encode_id("polri", Entity.CASE, c["key"])} for c in polri]
    representations += [
        {"__typename": "PersonRecord", "id": encode_id("polri", Entity.PERSON, f"korban/{p['key']}")}
        for p in victims
    ]
    representations.append({"__typename": "Agency", "code": "LPSK"})
    result = await hub.execute(ENTITIES, {"r": representations}, EVERY_ROW)
    assert not result.errors, [e.formatted for e in result.errors]
    entities = result.data["_entities"]
    assert [e["sourceKey"] for e in entities[:40]] == [c["source_key"] for c in polri]
    assert all(e["roles"] == ["VICTIM"] for e in entities[40:45])
    assert entities[-1] == {"code": "LPSK", "name": "Lembaga Perlindungan Saksi dan Korban"}
    statements = {s["source"]: s["statements"] for s in result.extensions["sources"]}
    assert statements["polri"] <= 6  # cases, persons, victims, stage events: batched, not 45 lookups
