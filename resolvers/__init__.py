"""The GraphQL layer: strawberry types, inputs and the root Query. No SQL here."""
