"""The editors' JSON Schema of mapping files (``docs/mapping.schema.json``), from the models.

Editors validate TOML against a JSON Schema (Taplo / "Even Better TOML" in VS Code reads the
``#:schema`` comment on a file's first line), so a data officer sees an unknown key or a wrong
type while typing. The schema is :func:`adapters.mapping_model.json_schema`: generated from the
same pydantic models the hub validates mapping files with, so the two cannot drift, and a test
fails when the committed file differs from it. Regenerate with
``python -m adapters.mapping_schema > docs/mapping.schema.json``.

The schema checks the file's shape; :mod:`adapters.mapping` also checks what a schema cannot
(that a code list named exists, that its values are national values of the field using it).
"""

from __future__ import annotations

import json

from adapters.mapping_model import json_schema


def schema_text() -> str:
    """The schema as committed in ``docs/mapping.schema.json``."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
