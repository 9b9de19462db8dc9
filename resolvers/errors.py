"""The GraphQL errors resolvers raise on purpose, in one place so their codes never drift."""

from __future__ import annotations

from graphql import GraphQLError


def bad_input(message: str, argument: str) -> GraphQLError:
    """A ``BAD_USER_INPUT`` error that names the offending argument (``extensions.argument``)."""
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "argument": argument})
