"""The federated engine: sources and their registry, fan-out with timeouts and breakers, merged
keyset pages, per-request loaders and scope, persons through the linkage index, the batch linking
job. Knows no GraphQL and no particular agency."""
