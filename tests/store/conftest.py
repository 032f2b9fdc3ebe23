"""Fixtures for the store tests: both back ends (see backends.py)."""

from store.backends import backend, library, locations, pg_server  # noqa: F401  (pytest fixtures)
