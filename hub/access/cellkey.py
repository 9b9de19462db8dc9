"""Consistent perturbation of statistics: the cell-key method.

Suppressing cells under k protects one table. An adversary asks many: with exact counts,
``T([R, BIG]) − T([BIG])`` gives a suppressed region ``R`` back, and date windows, filter
complements or two groupings give back others (issue 12). So every count a role below
coordinator sees is also *perturbed*, consistently, as the Australian Bureau of Statistics'
TableBuilder and the 2021 UK census do (Fraser & Wooton 2005; Thompson, Broadfoot & Elazar 2013):

- every record carries a fixed pseudo-random **record key** in ``[0, 2^32)``: the first 32 bits
  of ``MD5(salt || record key text)``, computed in the source's own SQL beside the count
  (:mod:`adapters.cellkeys`); ``salt`` is derived from the hub's secret per source, so it is
  never stored in a source and differs between sources;
- a cell's **cell key** is the sum of its records' keys modulo ``2^32`` (the sources send
  their sums, the hub adds them up across sources); a distinct-person count (VICTIMS) sums
  *person* keys instead, derived from the linkage index's person number;
- a cell's **noise** is a deterministic function of its cell key and its count: a uniform
  value in ``[−b, b]`` (``b`` from :class:`PerturbationRule`). The same records always give the
  same noise — asking again, or asking the same cell through another query, returns the same
  number — while a cell with even one record more or less has a different, unrelated key,
  so differencing two answers yields the difference of two independent noises.

k-suppression (:mod:`hub.access.suppression`) stays on top, decided on the true counts.
What this does and does not protect against is written down in ``docs/access.md``.

The secret lives in the hub's store (table ``cell_key_secret``), created once at random by the
first hub that opens the store, so every replica perturbs identically (a second replica with
another secret would hand an attacker a second, independent noise to average).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Hashable
from dataclasses import dataclass, field

from sqlalchemy import Column, Integer, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from adapters.cellkeys import KEY_SPACE, record_key
from hub.storage.store import Store, metadata

cell_key_secret = Table(
    "cell_key_secret",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("secret", String(64), nullable=False),  # hex of 32 random bytes
)


@dataclass(frozen=True, slots=True)
class PerturbationRule:
    """How much noise a count of ``n`` gets: uniform in ``[−bound(n), bound(n)]``.

    Counts under ``large`` (the ones k-suppression and differencing are about) get
    ``small_bound``; from ``large`` up the bound is ``relative`` of the count, at least
    ``min_bound`` and at most ``max_bound``, so every cell of 100 or more stays within 2 % of
    the truth (issue 12's utility target) while a difference of two published cells carries
    the noise of both.
    """

    small_bound: int = 3
    large: int = 100
    relative: float = 0.02
    min_bound: int = 2
    max_bound: int = 3

    def bound(self, count: int) -> int:
        if count <= 0:
            return 0
        if count < self.large:
            return self.small_bound
        return max(self.min_bound, min(self.max_bound, int(count * self.relative)))

    def noise(self, count: int, cell_key: int) -> int:
        """The noise of a cell of ``count`` records whose keys sum to ``cell_key``."""
        bound = self.bound(count)
        if bound == 0:
            return 0
        mixed = hashlib.blake2b(f"{cell_key % KEY_SPACE}:{count}".encode(), digest_size=8).digest()
        return int.from_bytes(mixed, "big") % (2 * bound + 1) - bound


@dataclass(frozen=True, slots=True)
class CellKeys:
    """The hub's cell-key secret and everything derived from it.

    Implements the engine's keying hook (:class:`hub.engine.federation.CellKeying`): salts for
    the sources' SQL, keys of distinct persons, and a fallback key for sources that cannot key
    their records; and :meth:`perturb` for the published value.
    """

    secret: bytes = field(repr=False)
    rule: PerturbationRule = PerturbationRule()

    @classmethod
    async def open(cls, store: Store, rule: PerturbationRule | None = None) -> CellKeys:
        """The store's secret, created at random by the first hub that opens the store."""
        query = select(cell_key_secret.c.secret).where(cell_key_secret.c.id == 1)
        async with store.engine.connect() as conn:
            found = (await conn.execute(query)).first()
        if found is None:
            try:
                async with store.engine.begin() as conn:
                    await conn.execute(insert(cell_key_secret).values(id=1, secret=secrets.token_hex(32)))
            except IntegrityError:
                pass  # another replica created it first: use theirs
            async with store.engine.connect() as conn:
                found = (await conn.execute(query)).first()
        assert found is not None
        return cls(bytes.fromhex(found[0]), rule or PerturbationRule())

    def _derive(self, label: str) -> str:
        return hmac.new(self.secret, label.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def salt(self, source: str) -> str:
        """The salt a source hashes its record keys with (sent with the query, never stored)."""
        return self._derive(f"tppo-cell-key/v1/source/{source}")

    def person_key(self, person: Hashable) -> int:
        """The key of a distinct person: a linkage person number, or (source, key) if unlinked."""
        if isinstance(person, tuple):
            text = "record/" + "/".join(str(part) for part in person)
        else:
            text = f"person/{person}"
        return record_key(self._derive("tppo-cell-key/v1/persons"), text)

    def fallback_key(self, source: str, cell: tuple[str | None, ...], count: int) -> int:
        """A key for a source that cannot key its records: from its cell and count (weaker)."""
        return record_key(self.salt(source), f"cell/{cell!r}/{count}")

    def perturb(self, count: int, cell_key: int, floor: int = 0) -> int:
        """The published value of a cell: its count plus its consistent noise, at least ``floor``.

        Published cells are never under k (``floor``): a value under k would tell that the true
        count is k exactly and so is not perturbed at all (the noise is bounded).
        """
        return max(floor, count + self.rule.noise(count, cell_key))
