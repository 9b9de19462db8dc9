"""The adapter toolkit: the Source contract, mapping files, the generic SQL adapter.

Adapters know no GraphQL; they return records of the national vocabulary (hub.vocabulary.model).
"""
