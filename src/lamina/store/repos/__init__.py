"""Typed repositories: each owner of rows in ``metadata.db`` (containers, the build's records,
blob locations; images live in ``store.store``) reads and writes them only through its class
here, so every SQL statement on the store's metadata sits under ``store/`` next to the schema.

Each takes a :class:`lamina.store.metadata.Metadata`; none imports more than the standard
library, because the no-op rebuild door and ``lamina run`` load them on their fast paths.
"""
