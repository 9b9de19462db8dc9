// Runs a real Apollo Gateway (inside Apollo Server) over the hub subgraph at argv[2],
// composed from the subgraph's own SDL, and executes the query in argv[3] through it.
// Prints the response as JSON: {"data": ..., "errors": [...]}.
import { ApolloServer } from '@apollo/server';
import { ApolloGateway, IntrospectAndCompose } from '@apollo/gateway';

const [url, query] = process.argv.slice(2);
const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({ subgraphs: [{ name: 'tppo', url }] }),
});
const server = new ApolloServer({ gateway });
await server.start();
const response = await server.executeOperation({ query });
const single = response.body.kind === 'single' ? response.body.singleResult : {};
console.log(JSON.stringify({ data: single.data ?? null, errors: (single.errors ?? []).map((e) => e.message) }));
await server.stop();
