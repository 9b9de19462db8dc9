// Composes the hub's subgraph SDL (read from stdin) into a supergraph with Apollo's own
// composition library; prints {"errors": [...]} or {"supergraph": "..."} as JSON.
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

let sdl = '';
for await (const chunk of process.stdin) sdl += chunk;
const url = process.argv[2] ?? 'http://127.0.0.1:0/graphql';
const result = composeServices([{ name: 'tppo', typeDefs: parse(sdl), url }]);
if (result.errors) {
  console.log(JSON.stringify({ errors: result.errors.map((e) => e.message) }));
} else {
  console.log(JSON.stringify({ supergraph: result.supergraphSdl }));
}
