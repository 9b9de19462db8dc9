"""Generic helpers with no knowledge of the domain, at the ground floor beside the vocabulary:
line numbers for TOML keys (:mod:`.locator`) and typed TOML files with file:line errors
(:mod:`.typed_toml`). Imports nothing else of the project."""
