"""Benchmarks of the TPPO Data Hub (``make bench``, ``python -m bench``).

Every figure is a ratio or a count measured side by side in one run on the same machine, so a
noisy shared machine moves both sides of a ratio alike. Results go to ``bench/RESULTS.md``.
"""
