"""Splink as a peer: the same person records linked by Splink (duckdb backend), for comparison.

Splink (UK Ministry of Justice, MIT licence) is the best-known open-source Fellegi–Sunter
linker. The model here is what a careful Splink user would build for these records:

- inputs: the same :class:`~hub.vocabulary.model.PersonRecord`\\ s the hub links; names cleaned
  with the hub's own normaliser (titles, patronym, old spelling: an Indonesian Splink user
  would clean as much), first and last token split out, NIK / phone as digits, passport
  upper case, address lower case; the full name's tokens sorted (order is noise);
- comparisons: full name (Jaro-Winkler levels, term-frequency adjusted; first and last
  token serve blocking only, as separate comparisons they count the name thrice), birth
  date (exact, one edit, within a month, a year, ten years), NIK (exact, one or two edits),
  passport, phone (exact on the last nine digits), address (Jaro-Winkler), sex, regency;
- nine blocking rules for prediction (NIK, passport, phone, full name, first/last token +
  birth date, first token + regency, last token + birth year, NIK's first twelve digits);
- training: λ from deterministic rules, u by random sampling, m by EM on two blocking
  rules (birth date; full name);
- threshold: the match weight (log2 Bayes factor, in half steps) that maximises pairwise F1
  on the pairs of a labelled half of the persons (Splink is given labels the hub never
  sees); clustering: Splink's connected components at that threshold.

:func:`run` returns cluster labels and the wall time of training, prediction and
clustering (the threshold search on labels is not timed: it is offline tuning).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import defaultdict
from collections.abc import Sequence

from hub.linkage.normalise import normalise_name
from hub.vocabulary.model import PersonRecord

_NON_DIGIT = re.compile(r"\D+")


def _row(i: int, record: PersonRecord) -> dict[str, object]:
    tokens = normalise_name(record.full_name).tokens
    nik = _NON_DIGIT.sub("", record.nik or "") or None
    phone = _NON_DIGIT.sub("", record.phone or "")[-9:] or None
    passport = re.sub(r"[^A-Z0-9]", "", (record.passport_number or "").upper()) or None
    return {
        "unique_id": i,
        "name": " ".join(sorted(tokens)) or None,  # token order is noise, not evidence
        "first_name": tokens[0] if tokens else None,
        "last_name": tokens[-1] if len(tokens) > 1 else None,
        "dob": record.birth_date.isoformat() if record.birth_date else None,
        "birth_year": record.birth_date.year if record.birth_date else None,
        "nik": nik if nik and len(nik) == 16 else None,
        "passport": passport,
        "phone": phone,
        "address": (record.address or "").lower() or None,
        "sex": record.sex.name if record.sex.name != "UNKNOWN" else None,
        "region": record.domicile_region,
    }


def _settings() -> object:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            # One comparison of the name: first and last token comparisons on top would count
            # the same evidence three times (EM gave them +11.5, +8.2 and +7.4 bits together).
            cl.NameComparison("name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.LevenshteinAtThresholds("nik", [1, 2]),
            cl.ExactMatch("passport"),
            cl.ExactMatch("phone"),
            cl.JaroWinklerAtThresholds("address", [0.9, 0.8]),
            cl.ExactMatch("sex"),
            cl.ExactMatch("region"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("nik"),
            block_on("passport"),
            block_on("phone"),
            block_on("name"),
            block_on("first_name", "dob"),
            block_on("last_name", "dob"),
            block_on("first_name", "region"),
            block_on("last_name", "birth_year"),
            block_on("substr(nik, 1, 12)"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def _components(n: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    return [find(i) for i in range(n)]


def _f1(labels: list[int], truth: Sequence[str], members: set[int]) -> float:
    from hub.linkage.quality import pair_quality

    predicted = {i: labels[i] for i in members}
    return pair_quality(predicted, {i: truth[i] for i in members}).f1


def _labelled_half(truth: Sequence[str]) -> set[int]:
    """Records of the persons whose label hashes even: half the persons, chosen blind."""
    return {i for i, label in enumerate(truth) if hashlib.sha1(label.encode()).digest()[0] % 2 == 0}


def run(records: Sequence[PersonRecord], truth: Sequence[str]) -> tuple[list[int], float, float]:
    """Link ``records`` with Splink: (cluster label per record, seconds, chosen match weight threshold)."""
    import pyarrow as pa
    from splink import DuckDBAPI, Linker, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    rows = [_row(i, r) for i, r in enumerate(records)]
    count = len(rows)
    table = pa.Table.from_pylist(rows)
    del rows
    started = time.perf_counter()
    db_api = DuckDBAPI()
    frame = db_api.register(table)
    linker = Linker(frame, _settings(), log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("nik"), block_on("name", "dob")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name"))
    predictions = linker.inference.predict(threshold_match_weight=-5)
    scored = predictions.as_pyarrow_table().select(["unique_id_l", "unique_id_r", "match_weight"])
    trained = time.perf_counter() - started

    left = scored.column("unique_id_l").to_pylist()
    right = scored.column("unique_id_r").to_pylist()
    weight = scored.column("match_weight").to_pylist()
    half = _labelled_half(truth)
    by_threshold: dict[float, float] = {}
    for threshold in (w / 2 for w in range(-10, 61)):
        pairs = [(a, b) for a, b, w in zip(left, right, weight, strict=True) if w >= threshold]
        by_threshold[threshold] = _f1(_components(count, pairs), truth, half)
    threshold = max(by_threshold, key=lambda t: (by_threshold[t], t))

    started = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_weight=threshold
    )
    table = clusters.as_pyarrow_table().select(["unique_id", "cluster_id"])
    elapsed = trained + time.perf_counter() - started
    label_of: dict[int, object] = dict(
        zip(table.column("unique_id").to_pylist(), table.column("cluster_id").to_pylist(), strict=True)
    )
    numbers: dict[object, int] = defaultdict(lambda: len(numbers))
    labels = [numbers[label_of.get(i, ("alone", i))] for i in range(count)]
    return labels, elapsed, threshold
