// PostGraphile 5 as the benchmark's peer (bench/postgraphile.py starts it with Node 22).
//
// The Amber preset over one schema of the bench's PostgreSQL, no watch mode, no GraphiQL, no
// explain: the configuration a production deployment would run. Arguments: a connection
// string, the schema, the port (127.0.0.1 only). Prints "ready" once it listens.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const [connectionString, schema, port] = process.argv.slice(2);
if (!connectionString || !schema || !port) {
  console.error("usage: node postgraphile.mjs CONNECTION_STRING SCHEMA PORT");
  process.exit(2);
}

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ connectionString, schemas: [schema] })],
  grafserv: { graphqlPath: "/graphql", graphiql: false, watch: false, maxRequestLength: 100000 },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
// Build the schema before reporting ready, so the first timed request pays no start-up.
await pgl.getSchema();
server.listen(Number(port), "127.0.0.1", () => console.log("ready"));
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    server.close();
    await pgl.release();
    process.exit(0);
  });
}
