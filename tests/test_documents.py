"""Every operation in the README and docs/ is named and lives as a ``.graphql`` document, and
typed clients generated from the documents compile.

- The documents: ``hub/server/operations/`` (GraphiQL's example tabs), ``docs/graphql/`` (the
  other operations of the README and docs/) and the dashboard's
  ``hub/server/static/dashboard/dashboard.graphql``. One operation per file in the first two,
  named like the file; operation names are unique across all of them.
- Each ```graphql block of README.md and docs/*.md is named and equals (as printed by
  graphql-core, comments aside) the document of that name; each document validates against
  the schema.
- A portal team's tool chain: graphql-codegen (typescript + typescript-operations, strict
  scalars) writes the types, and ``tsc --strict`` compiles them together with a small client
  that relies on what the schema promises (e.g. ``totalCount`` is a number, never null).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    parse,
    print_ast,
    validate,
)

from resolvers.schema import schema

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "tests" / "js"
EXAMPLES = ROOT / "hub" / "server" / "operations"
DOCS = ROOT / "docs" / "graphql"
DASHBOARD = ROOT / "hub" / "server" / "static" / "dashboard" / "dashboard.graphql"
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def documents() -> dict[str, tuple[Path, DocumentNode]]:
    """Operation name → (file, parsed document), over every document file."""
    found: dict[str, tuple[Path, DocumentNode]] = {}
    for path in [*sorted(EXAMPLES.glob("*.graphql")), *sorted(DOCS.glob("*.graphql")), DASHBOARD]:
        document = parse(path.read_text(encoding="utf-8"))
        for operation in operations(document):
            assert operation.name is not None, f"{path}: an anonymous operation"
            name = operation.name.value
            assert name not in found, f"operation {name} in {path} and {found[name][0]}"
            found[name] = (path, document)
    return found


def blocks() -> list[tuple[Path, str]]:
    return [
        (path, block)
        for path in MARKDOWN
        for block in re.findall(r"```graphql\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)
    ]


def printed(document: DocumentNode, name: str) -> str:
    """The operation ``name`` and the fragments of its document, printed without comments."""
    parts = [
        d
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
        or (isinstance(d, OperationDefinitionNode) and d.name is not None and d.name.value == name)
    ]
    return "\n".join(print_ast(part) for part in parts)


def test_one_named_operation_per_document_file_named_like_it() -> None:
    for path in [*EXAMPLES.glob("*.graphql"), *DOCS.glob("*.graphql")]:
        (operation,) = operations(parse(path.read_text(encoding="utf-8")))
        assert operation.name is not None and operation.name.value == path.stem, path
    assert len(documents()) >= 12


@pytest.mark.parametrize(("path", "block"), blocks(), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_every_block_is_named_and_equals_its_document(path: Path, block: str) -> None:
    found = documents()
    document = parse(block)
    ops = operations(document)
    assert ops, f"{path.name}: a graphql block with no operation"
    for operation in ops:
        assert operation.name is not None, f"{path.name}: name this operation:\n{block}"
        name = operation.name.value
        assert name in found, f"{path.name}: {name} has no .graphql document"
        assert printed(document, name) == printed(found[name][1], name), f"{name} differs from its document"


def test_every_document_validates_against_the_schema() -> None:
    for name, (path, document) in documents().items():
        errors = validate(schema._schema, document)
        assert errors == [], f"{name} ({path.name}): {[e.message for e in errors]}"


NODE = shutil.which("node")
CODEGEN = JS / "typed-clients.mjs"
TSC = JS / "node_modules" / "typescript" / "bin" / "tsc"

#: A client that leans on the schema's promises: strict mode fails if they are broken.
CLIENT = """
import type { PortalListQuery, LinkedPersonsQuery, StatisticsByProvinceAndYearQuery } from "./operations";

export function summary(page: PortalListQuery): string {
  const total: number = page.cases.totalCount;
  const next: string | null | undefined = page.cases.pageInfo.endCursor;
  return `${total} cases, next page after ${next ?? "none"}`;
}

export function persons(answer: LinkedPersonsQuery): number {
  const state: "CURRENT" | "STALE" | "NOT_RUN" = answer.persons.linkage.state;
  return state === "CURRENT" ? answer.persons.totalCount : 0;
}

export function provinces(answer: StatisticsByProvinceAndYearQuery): (number | null | undefined)[] {
  return answer.byProvinceAndYear.rows.map((row) => row.count);
}
"""


@pytest.mark.skipif(
    NODE is None or not (JS / "node_modules" / "@graphql-codegen" / "cli").exists() or not TSC.exists(),
    reason="Node tools not installed (make test runs npm ci in tests/js)",
)
def test_typed_clients_generate_and_compile_strictly(tmp_path: Path) -> None:
    out = tmp_path / "operations.ts"
    globs = [str(EXAMPLES / "*.graphql"), str(DOCS / "*.graphql"), str(DASHBOARD)]
    done = subprocess.run(
        [NODE or "node", str(CODEGEN), str(ROOT / "schema.graphql"), str(out), *globs],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["files"] == [str(out)]
    generated = out.read_text(encoding="utf-8")
    for name in documents():
        assert f"export type {name}Query" in generated or f"export type {name}Mutation" in generated, name
    (tmp_path / "client.ts").write_text(CLIENT, encoding="utf-8")
    (tmp_path / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "strict": True,
                    "noEmit": True,
                    "target": "es2020",
                    "lib": ["es2020"],
                    "module": "es2020",
                    "moduleResolution": "node",
                    "types": [],
                },
                "files": ["operations.ts", "client.ts"],
            }
        ),
        encoding="utf-8",
    )
    compiled = subprocess.run(
        [NODE or "node", str(TSC), "-p", str(tmp_path / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert compiled.returncode == 0, compiled.stdout[-3000:]
