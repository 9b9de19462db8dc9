"""Translating values read from a source into national values (code lists, dates, countries…).

One :class:`Translations` per source holds the mapping's code lists and the counter of values
it could not translate (:attr:`Translations.unmapped`, for the data-quality report). Readers
made here are shared by records and statistics, so a value reads the same in both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from adapters.mapping import DEFAULT_CODE, FALSE_VALUES, TRUE_VALUES, FieldKind, RegionSpec, SourceMapping
from adapters.regions import match_regency
from adapters.sqlfuncs import VALUE_SEPARATOR
from hub.vocabulary import countries as country_codes
from hub.vocabulary import reference
from hub.vocabulary.model import Labelled

#: A reader: the SQL values selected for one field → its national value.
Reader = Callable[[Sequence[Any]], Any]


def fallback(enum_cls: type[Labelled]) -> Labelled | None:
    """The member an untranslatable value becomes: UNKNOWN, else OTHER, else none."""
    for name in ("UNKNOWN", "OTHER"):
        if name in enum_cls.__members__:
            return enum_cls[name]
    return None


def to_int(raw: Any) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def split_many(raw: Any, translate: Callable[[Any], tuple[Any, ...]]) -> tuple[Any, ...]:
    """Values aggregated with :data:`VALUE_SEPARATOR`, each translated, deduplicated, sorted."""
    if raw is None:
        return ()
    values: list[Any] = []
    for item in str(raw).split(VALUE_SEPARATOR):
        for member in translate(item):
            if member not in values:
                values.append(member)
    return tuple(sorted(values, key=lambda m: m.name))


class Translations:
    """Value translation for one source, counting what it cannot translate."""

    def __init__(self, mapping: SourceMapping) -> None:
        self.mapping = mapping
        self.unmapped: Counter[tuple[str, str]] = Counter()

    def national(self, kind: FieldKind, value: str) -> Any:
        """A constant of the mapping as the field's national value."""
        if isinstance(kind.kind, type) and issubclass(kind.kind, Labelled):
            member = kind.kind.parse(value)
            return (member,) if kind.many else member
        return value

    def translator(self, kind: FieldKind, code_list: str | None, field_id: str) -> Callable[[Any], Any]:
        """A function from a raw source value to the national value(s) of ``kind``."""
        table = self.mapping.codes.get(code_list, {}) if code_list else None
        enum_cls = kind.kind if isinstance(kind.kind, type) and issubclass(kind.kind, Labelled) else None
        unmapped = self.unmapped
        default = table.get(DEFAULT_CODE) if table else None
        if enum_cls is None:
            if table is None:
                return lambda raw: None if raw is None else str(raw).strip() or None

            def text(raw: Any) -> Any:
                if raw is None:
                    return None
                found = table.get(str(raw).strip())
                if found is None:
                    unmapped[(field_id, str(raw))] += 1
                    return default[0] if default else None
                return found[0]

            return text

        # Pre-build the lookup so rows only pay a dict access.
        if table is not None:
            lookup = {
                src: tuple(enum_cls.parse(v) for v in values)
                for src, values in table.items()
                if src != DEFAULT_CODE
            }
        else:
            lookup = {m.name: (m,) for m in enum_cls}
        fallback_member = fallback(enum_cls)
        otherwise: tuple[Labelled, ...] = (
            tuple(enum_cls.parse(v) for v in default)
            if default
            else ((fallback_member,) if fallback_member is not None else ())
        )

        def translate(raw: Any) -> Any:
            if raw is None:
                return () if kind.many else None
            found = lookup.get(str(raw).strip())
            if found is None:
                unmapped[(field_id, str(raw))] += 1
                found = otherwise
            return found if kind.many else (found[0] if found else None)

        return translate

    def boolean(self, raw: Any, field_id: str) -> bool | None:
        if raw is None or str(raw).strip() == "":
            return None
        text = str(raw).strip().lower()
        if text in TRUE_VALUES:
            return True
        if text in FALSE_VALUES:
            return False
        self.unmapped[(field_id, str(raw))] += 1
        return None

    def date(self, raw: Any, field_id: str) -> date | None:
        if raw is None:
            return None
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            self.unmapped[(field_id, "<unparseable date>")] += 1
            return None

    def country(self, raw: Any, fmt: str, field_id: str) -> str | None:
        if raw is None or str(raw).strip() == "":
            return None
        text = str(raw).strip()
        if fmt == "alpha3":
            code = country_codes.country_from_alpha3(text)
        elif fmt == "name":
            code = country_codes.country_from_name(text)
        else:
            code = text.upper() if country_codes.country_from_alpha2(text) else None
        if code is None:
            self.unmapped[(field_id, text)] += 1
        return code

    def region_reader(self, spec: RegionSpec) -> Reader:
        """Reads a region code column, or regency (and province) name columns."""
        index = reference.regions()
        unmapped = self.unmapped
        if spec.code is not None:

            def from_code(values: Sequence[Any]) -> str | None:
                region = index.by_code(str(values[0])) if values[0] is not None else None
                if values[0] is not None and region is None:
                    unmapped[("region", str(values[0]))] += 1
                return region.code if region else None

            return from_code

        def from_names(values: Sequence[Any]) -> str | None:
            if values[0] is None:
                return None
            province = values[1] if len(values) > 1 and values[1] is not None else None
            # Exact spellings first; close variants (old orthography, typos) as a fallback.
            match = match_regency(str(values[0]), None if province is None else str(province), spec.fuzzy)
            if match is None:
                unmapped[("region", str(values[0]))] += 1
            return match.region.code if match else None

        return from_names
