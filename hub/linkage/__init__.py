"""Record linkage: one person across agencies (docs/architecture.md §1, issue 5).

- :mod:`~hub.linkage.normalise` — Indonesian names, NIK, passport and birth dates made comparable;
- :mod:`~hub.linkage.variants` — Indonesian name knowledge as reviewed data files (``data/*.csv``);
- :mod:`~hub.linkage.names` — graded name agreement (order, subsets, variants, short forms);
- :mod:`~hub.linkage.features` — one record reduced to its comparable features (memory only);
- :mod:`~hub.linkage.blocking` — candidate pairs, near-linear in the number of records;
- :mod:`~hub.linkage.scoring` — how much a pair's evidence says "the same person";
- :mod:`~hub.linkage.cluster` — transitive-safe clustering of the links;
- :mod:`~hub.linkage.engine` — the in-memory pipeline (block, score, cluster, linked cases);
- :mod:`~hub.linkage.review` — the clerical review queue of possible links and its decisions;
- :mod:`~hub.linkage.index` — the non-identifying linkage index in the hub's store;
- :mod:`~hub.engine.linking` — ``tppo-hub link``: full and incremental runs over the sources;
- :mod:`~hub.linkage.counting` — deduplicated victim counts and double counting, for statistics;
- :mod:`~hub.linkage.quality` — pairwise precision/recall/F1 against external labels.
"""
