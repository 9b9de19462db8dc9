"""Access control: who the caller is (:mod:`.auth`, RS256 keys by :mod:`.jwks`), what they may
read (:mod:`.policy`), the tamper-evident record of what they read (:mod:`.audit`) and
disclosure control for counts (:mod:`.suppression`). Uses the engine; never imported by it."""
