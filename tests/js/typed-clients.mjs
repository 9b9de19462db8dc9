// Typed clients from the hub's documents, as a portal team would make them:
// graphql-codegen (typescript + typescript-operations) over schema.graphql and every
// .graphql document, written to OUT; tests/test_documents.py then runs `tsc --strict` on it.
//
// Usage: node typed-clients.mjs SCHEMA OUT DOCUMENT_GLOB...
import { generate } from "@graphql-codegen/cli";

const [schema, out, ...documents] = process.argv.slice(2);

const files = await generate(
  {
    schema,
    documents,
    silent: true,
    errorsOnly: true,
    generates: {
      [out]: {
        plugins: ["typescript", "typescript-operations"],
        config: {
          strictScalars: true,
          scalars: { Date: "string", DateTime: "string", _Any: "unknown", _FieldSet: "string", link__Import: "unknown" },
          enumsAsTypes: true,
          avoidOptionals: false,
          skipTypename: true,
        },
      },
    },
  },
  true,
);
console.log(JSON.stringify({ files: files.map((f) => f.filename) }));
