"""Cell-key perturbation (:mod:`hub.access.cellkey`): the bounds of docs/access.md, exactly.

The rule (docs/access.md, "Perturbation"): a count under 100 gets noise uniform in [−3, 3];
from 100 on the bound is 2 % of the count, at least 2 and at most 3; zero is never perturbed.
The same cell key and count always give the same noise; a published value is never under the
floor. Salts and person keys are derived from the hub's secret with HMAC-SHA256 — recomputed
here with :mod:`hmac` directly, so a change of derivation (which would change every published
number and hand an attacker a second, independent noise) fails this test.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from pathlib import Path

import pytest

from adapters.cellkeys import KEY_SPACE
from hub.access.cellkey import CellKeys, PerturbationRule
from hub.storage.store import Store

SECRET = bytes(range(32))
RULE = PerturbationRule()


def documented_bound(count: int) -> int:
    if count <= 0:
        return 0
    if count < 100:
        return 3
    return max(2, min(3, int(count * 0.02)))


@pytest.mark.parametrize(
    ("count", "bound"),
    [(-5, 0), (0, 0), (1, 3), (10, 3), (11, 3), (12, 3), (99, 3), (100, 2), (149, 2), (150, 3), (10_000, 3)],
)
def test_noise_bound_per_count(count: int, bound: int) -> None:
    assert RULE.bound(count) == bound == documented_bound(count)


def test_a_rule_with_other_settings_is_followed() -> None:
    rule = PerturbationRule(small_bound=5, large=50, relative=0.1, min_bound=4, max_bound=8)
    assert [rule.bound(n) for n in (0, 1, 49, 50, 79, 80, 89, 90, 1000)] == [0, 5, 5, 5, 7, 8, 8, 8, 8]
    assert [rule.bound(n) for n in (40, 50, 60)] == [5, 5, 6]


def test_noise_stays_within_the_bound_and_uses_all_of_it() -> None:
    for count in (1, 5, 11, 99, 100, 149, 150, 5000):
        bound = documented_bound(count)
        seen = Counter(RULE.noise(count, key * 7919) for key in range(700))
        assert set(seen) == set(range(-bound, bound + 1)), count
        # Uniform: each of the 2b+1 values about 1/(2b+1) of the time (700 keys, loose bounds).
        assert min(seen.values()) > 700 / (2 * bound + 1) / 2, (count, seen)


def test_noise_of_nothing_is_zero() -> None:
    assert {RULE.noise(0, key) for key in range(50)} == {0}
    assert RULE.noise(-1, 12345) == 0


def independent_noise(count: int, cell_key: int) -> int:
    """The documented noise: BLAKE2b-64 of "key mod 2^32:count", mod 2b+1, centred."""
    bound = documented_bound(count)
    digest = hashlib.blake2b(f"{cell_key % 2**32}:{count}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2 * bound + 1) - bound


def test_noise_is_a_fixed_function_of_key_and_count() -> None:
    """Stable across runs and releases: the same records always publish the same number."""
    for count in (1, 7, 11, 100, 150, 2500):
        for key in (0, 1, 12345, 2**31, 2**32 - 1, 987654321987):
            assert RULE.noise(count, key) == independent_noise(count, key), (count, key)
    # Keys are summed across sources without reduction: only the key modulo 2^32 matters.
    assert all(RULE.noise(9, k) == RULE.noise(9, k + 3 * KEY_SPACE) for k in range(0, 2**32, 2**28))
    # One record more is an unrelated draw, not the same noise shifted.
    assert sum(RULE.noise(9, k) != RULE.noise(10, k) for k in range(200)) > 100


def test_perturbed_value_is_count_plus_noise_and_never_under_the_floor() -> None:
    keys = CellKeys(SECRET)
    for count in (1, 3, 11, 12, 14, 100, 1000):
        for key in range(0, 3000, 37):
            noise = independent_noise(count, key)
            assert keys.perturb(count, key) == max(0, count + noise)
            assert keys.perturb(count, key, floor=11) == max(11, count + noise)
    assert keys.perturb(0, 77) == 0
    assert keys.perturb(0, 77, floor=11) == 11
    # Under the floor only ever by the floor: a published cell of 11 may be a true 11..14.
    lifted = {
        count for count in range(11, 15) for key in range(300) if keys.perturb(count, key, floor=11) == 11
    }
    assert lifted == {11, 12, 13, 14}


def derived(secret: bytes, label: str) -> str:
    return hmac.new(secret, label.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def md5_key(salt: str, text: str) -> int:
    return int(hashlib.md5((salt + text).encode("utf-8")).hexdigest()[:8], 16)


def test_salts_and_keys_are_derived_from_the_secret() -> None:
    keys = CellKeys(SECRET)
    assert keys.salt("polri") == derived(SECRET, "tppo-cell-key/v1/source/polri")
    assert len(keys.salt("polri")) == 32 and keys.salt("polri") != keys.salt("kpai")
    assert CellKeys(bytes(32)).salt("polri") != keys.salt("polri")
    persons = derived(SECRET, "tppo-cell-key/v1/persons")
    assert keys.person_key(42) == md5_key(persons, "person/42")
    assert keys.person_key(("polri", "K-1")) == md5_key(persons, "record/polri/K-1")
    assert keys.person_key(("polri", 7, None)) == md5_key(persons, "record/polri/7/None")
    assert keys.person_key(42) != keys.person_key(("42",))
    assert keys.fallback_key("kemlu", ("33", None), 12) == md5_key(keys.salt("kemlu"), "cell/('33', None)/12")
    assert keys.fallback_key("kemlu", ("33",), 12) != keys.fallback_key("kemlu", ("33",), 13)
    assert all(0 <= keys.person_key(p) < KEY_SPACE for p in range(100))
    assert "secret" not in repr(keys) and SECRET.hex() not in repr(keys)


async def test_the_secret_is_created_once_and_shared(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    await store.open()
    try:
        first = await CellKeys.open(store)
        second = await CellKeys.open(store, PerturbationRule(small_bound=5))
        assert len(first.secret) == 32 and first.secret == second.secret
        assert first.rule == PerturbationRule() and second.rule.small_bound == 5
        assert first.salt("polri") == second.salt("polri")
    finally:
        await store.engine.dispose()
    other = Store(f"sqlite:///{tmp_path / 'other.sqlite'}")
    await other.open()
    try:
        assert (await CellKeys.open(other)).secret != first.secret
    finally:
        await other.engine.dispose()
