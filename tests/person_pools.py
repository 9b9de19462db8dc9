"""Agency person records drawn from small pools of values (hypothesis), and the equality of two
linkage results: shared by the linkage property tests.

Small pools make fields agree and disagree in every combination and keys collide often; each
test names its own pools (:class:`PersonPools`), so what it explores stays written beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from hypothesis import strategies as st

from hub.linkage import engine
from hub.vocabulary.model import AgeGroup, PersonRecord, PersonRole, Sex


@dataclass(frozen=True)
class PersonPools:
    """The values a drawn person record's fields come from (None: the field left empty)."""

    names: Sequence[str | None]
    niks: Sequence[str | None]
    births: Sequence[date | None]
    regions: Sequence[str | None]
    roles: Sequence[PersonRole]
    age_groups: Sequence[AgeGroup]
    passports: Sequence[str | None]
    addresses: Sequence[str | None]
    phones: Sequence[str | None]


@st.composite
def person_records(draw: st.DrawFn, pools: PersonPools) -> PersonRecord:
    """A person record of polri or simfoni whose every field is drawn from ``pools``."""
    return PersonRecord(
        source=draw(st.sampled_from(("polri", "simfoni"))),
        key=str(draw(st.integers(0, 10**9))),
        case_key=draw(st.sampled_from(("c1", "c2", None))),
        roles=(draw(st.sampled_from(pools.roles)),),
        sex=draw(st.sampled_from((Sex.FEMALE, Sex.MALE, Sex.UNKNOWN))),
        age_group=draw(st.sampled_from(pools.age_groups)),
        is_child=None,
        citizenship=None,
        domicile_region=draw(st.sampled_from(pools.regions)),
        full_name=draw(st.sampled_from(pools.names)),
        nik=draw(st.sampled_from(pools.niks)),
        birth_date=draw(st.sampled_from(pools.births)),
        passport_number=draw(st.sampled_from(pools.passports)),
        address=draw(st.sampled_from(pools.addresses)),
        phone=draw(st.sampled_from(pools.phones)),
    )


def assert_same_linkage(one: engine.Linkage, other: engine.Linkage) -> None:
    """The same persons, evidence, review queue and counts."""
    assert sorted(map(sorted, one.groups)) == sorted(map(sorted, other.groups))
    assert one.evidence == other.evidence
    assert one.possible == other.possible
    counts = (one.candidate_pairs, one.links, one.refused)
    assert counts == (other.candidate_pairs, other.links, other.refused)
