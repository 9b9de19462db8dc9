"""``docs/indicators.md``, generated from the registry so the page never drifts from the files.

``python -m hub.engine.indicators.document > docs/indicators.md``; a test fails when the
committed page differs from what the registry gives.
"""

from __future__ import annotations

import sys
from functools import cache

from adapters.mapping import BUILTIN_MAPPINGS, load_mapping
from hub.engine.indicators import builtin_registry
from hub.engine.indicators.spec import Indicator, Kind, Need, Theme
from hub.vocabulary.model import CaseStage, Entity, PersonRole, ServiceStatus, ServiceType

#: What each need means, in words (the agencies come from the mapping files, never from code).
_NEED_TEXT = {
    Need.CASE: "cases",
    Need.PERSON: "person records (victims, witnesses)",
    Need.SERVICE: "services",
    Need.STAGE: "the procedural stage of cases",
    Need.STAGE_EVENT: "dated stage histories",
    Need.RESTITUTION: "restitution amounts",
}


@cache
def _holders(need: Need) -> list[str]:
    """Agencies whose shipped mapping files hold what ``need`` asks for (the demo's agencies)."""
    codes = set()
    for path in sorted(BUILTIN_MAPPINGS.glob("*.toml")):
        mapping = load_mapping(path, path.stem)
        cases = mapping.parts.get(Entity.CASE, ())
        held = {
            Need.CASE: bool(cases),
            Need.PERSON: bool(mapping.parts.get(Entity.PERSON)),
            Need.SERVICE: bool(mapping.parts.get(Entity.SERVICE)),
            Need.STAGE: any("stage" in part.fields for part in cases),
            Need.STAGE_EVENT: bool(mapping.parts.get(Entity.STAGE_EVENT)),
            Need.RESTITUTION: bool(mapping.parts.get(Entity.RESTITUTION)),
        }
        if held.get(need):
            codes.add(mapping.agency.code)
    return sorted(codes)


_INTRO = """\
# The Task Force's indicators (Indikator Gugus Tugas PP-TPPO)

The national action plan (RAN PP-TPPO) is measured from the one data: each indicator below is
defined **once, as data** — a reviewed TOML file in
[`hub/engine/indicators/registry/`](../hub/engine/indicators/registry/) — with its bilingual name
and definition, its numerator and denominator in the national vocabulary, its unit, the
disaggregations it allows, the data it needs and its Satu Data metadata (Perpres 39/2019:
concept, definition, formula, unit, frequency, source, reference codes). This page is generated
from those files (`python -m hub.engine.indicators.document > docs/indicators.md`; a test fails
when it is stale).

Ask for them in GraphQL:

```graphql
query IndicatorsAndRepatriation {
  indicators { id name { en id } unit metadata { formula frequency sources { code } } }
  indicator(id: "rights.repatriation", filter: { reportedFrom: "2024-01-01", reportedTo: "2024-12-31" },
            disaggregateBy: [SEX]) {
    totals { numerator denominator value }
    values { keys { dimension value label } numerator denominator value suppressed }
    coverage { source status cannotEvaluate excludedFor }
  }
}
```

or export a period for a report: `tppo-hub indicators export --config hub.toml --format csv
--from 2024-01-01 --to 2024-12-31` (JSON with `--format json`; `--role coordinator` for exact
figures, the default role `public` is disclosure-controlled).

## How they are computed

- **Where the data lives.** Case counts (the funnel) are the `statistics` GROUP BY, pushed into
  each agency's database. Person indicators ask each source for its matching person records
  with their cells and report dates (a SELECT DISTINCT joined to the filtered cases) and for its
  services grouped by recipient, type and status with the first start date (a GROUP BY); stage
  indicators ask for each case's first date per stage (a GROUP BY on the stage history). Only
  keys, national codes and dates leave a source — never a name, NIK or address.
- **Distinct persons.** The linkage index says which agency records are the same person, so a
  victim recorded by three agencies counts once. A record the linkage job has
  not seen yet counts as a person of its own (counts can be too high, never hide a victim).
- **A person's services** are every service any agency recorded for any of their linked
  records, in any case, with a status the indicator counts as received (ONGOING or COMPLETED in
  the shipped files: a PLANNED or REFUSED service was not received).
- **The population** (denominator) of a person indicator is the distinct persons with at least
  one record that has one of its roles, in a case that matches the request's filter (the
  period, regions, …), is cross-border where required (a country of exploitation recorded) and
  is at one of its stages where given. A person's **cells** and **first report** come from those
  records; a person falls in every cell one of them falls in, so cells can add up to more than
  the total, which counts each person once.
- **The funnel.** A case reached a step when its current stage is that step or a later one in
  procedural order; a DISCONTINUED case reached only the first step; a case whose agency records
  no stage is not in the funnel. Cases are counted as each agency records them (cases are not
  linked across agencies): disaggregate by AGENCY to read one agency's funnel.
- **Coverage.** Every answer says which sources answered, which were excluded by the filter,
  and what each could not evaluate (`services`, `stage`, `stage history`, `persons`).
- **Disclosure control.** For roles below coordinator, numerators and denominators pass the
  same disclosure control as `statistics`: cells under k = 11 suppressed (with complementary
  suppression per table), decided on the true counts; every count shown is then perturbed
  consistently by its cell key (the sum of its persons' keys from the linkage index, or of its
  records' keys computed in the source), never below k, so asking again or differencing two
  answers gives nothing away. Shares are computed from the shown counts; a median, a number
  of days or an amount is shown only when the counts it rests on are.
- **Proved right.** `tests/test_indicators.py` computes every indicator independently from the
  demo generator's ground truth (`tests/indicator_truth.py`) and compares exactly, for
  coordinators, with and without disaggregations; the analyst view is checked never to show a
  count under k.
"""


def _needs(indicator: Indicator) -> str:
    lines = []
    for need in Need:
        if need not in indicator.needs:
            continue
        if need is Need.LINKAGE:
            lines.append("  - LINKAGE: the hub's linkage index (`tppo-hub link`), to count each person once")
        else:
            agencies = ", ".join(_holders(need)) or "none of the shipped mappings"
            lines.append(f"  - {need.name}: {_NEED_TEXT[need]}, from {agencies}")
    return "\n".join(lines)


def _entry(indicator: Indicator) -> str:
    meta = indicator.metadata
    lines = [
        f"### `{indicator.id}` — {indicator.name.en}",
        "",
        f"*{indicator.name.id}*",
        "",
        f"{indicator.definition.en}",
        "",
        f"> {indicator.definition.id}",
        "",
        f"- **Unit:** {indicator.unit.label_en} ({indicator.unit.name}); **kind:** {indicator.kind.name}",
    ]
    if indicator.population is not None:
        population = indicator.population
        roles = ", ".join(r.name for r in PersonRole if r in population.roles)
        extra = []
        if population.cross_border:
            extra.append("cross-border cases only")
        if population.stages:
            extra.append("cases at " + ", ".join(s.name for s in CaseStage if s in population.stages))
        suffix = f" ({'; '.join(extra)})" if extra else ""
        lines.append(f"- **Denominator:** distinct persons with role {roles}{suffix}")
    if indicator.numerator is not None:
        services = (
            ", ".join(s.name for s in ServiceType if s in indicator.numerator.services) or "any service"
        )
        statuses = ", ".join(s.name for s in ServiceStatus if s in indicator.numerator.statuses)
        prefix = "without " if indicator.numerator.none else "with "
        lines.append(f"- **Numerator:** those {prefix}{services} (status {statuses})")
    if indicator.steps:
        lines.append(f"- **Steps:** {' → '.join(s.name for s in indicator.steps)}")
    lines += [
        f"- **Formula:** {meta.formula}",
        f"- **Disaggregations:** {', '.join(d.name for d in indicator.disaggregations) or '—'}",
        f"- **Frequency:** {meta.frequency.label_en}; **legal basis:** {indicator.legal_basis}",
        f"- **Reference codes:** {', '.join(meta.reference_codes)}",
        f"- **Relies on** (agencies from the shipped mapping files):\n{_needs(indicator)}",
    ]
    if meta.interpretation is not None:
        lines.append(f"- **How to read it:** {meta.interpretation.en}")
    lines.append(f"- **File:** `registry/{indicator.path.rsplit('/', 1)[-1]}`")
    return "\n".join(lines)


def render() -> str:
    """The whole page."""
    registry = builtin_registry()
    parts = [_INTRO, "## The indicators", ""]
    parts.append("| id | name | unit | kind |")
    parts.append("| --- | --- | --- | --- |")
    for indicator in registry:
        parts.append(
            f"| `{indicator.id}` | {indicator.name.en} | {indicator.unit.name} | {indicator.kind.name} |"
        )
    for theme in Theme:
        chosen = [i for i in registry if i.theme is theme]
        if not chosen:
            continue
        parts += ["", f"## {theme.label_en}", "", f"*{theme.label_id}*", ""]
        parts += [_entry(i) + "\n" for i in chosen]
    parts += [
        "",
        "## Adding an indicator",
        "",
        "Copy a file of the same kind in `hub/engine/indicators/registry/`, give it a new `id`, and",
        "change the vocabulary values. No code: the hub reads every `*.toml` file there at start-up",
        "and refuses a file with an unknown field, a value outside the vocabulary, an impossible",
        "denominator (a numerator that is not part of its population, funnel steps out of",
        "procedural order, a unit its kind cannot produce) or a disaggregation its data cannot",
        "answer — each at `file:line`. Kinds: "
        + ", ".join(f"`{k.name}` ({k.label_en.lower()})" for k in Kind)
        + ".",
        "",
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render())
