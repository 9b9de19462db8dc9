"""The top floor: the ASGI app, GraphQL over HTTP, the CLI, logs and persisted queries. The only
floor that imports :mod:`resolvers`."""
