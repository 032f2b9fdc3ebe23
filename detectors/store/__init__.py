"""The case store as a package: one API, one module per back end.

* :func:`open_library` opens a library from a location: a SQLite file path (the embedded
  default, :class:`detectors.store.sqlite.Library`) or a PostgreSQL URL
  (``postgresql://user@host/db``: :class:`detectors.store.postgres.PostgresLibrary`, a team
  store that every desk reads and writes at once). No location: the ``TELLTALE_LIBRARY``
  environment variable, else the user's data folder.
* :mod:`.schema`: the tables, described once and rendered for both back ends.
* :mod:`.search`: from index hits to matches (the decision both back ends share).
* :mod:`.migrate`: ``telltale library migrate --from SQLITE --to URL``.
* :mod:`.urls`: URL recognition and redaction (credentials never shown).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .sqlite import ENV_LIBRARY, Library, LibraryError
from .urls import is_url, redact_url

__all__ = ["open_library", "describe_location", "is_url", "redact_url", "Library", "LibraryError", "ENV_LIBRARY"]


def open_library(location: str | Path | None = None, retention_days: float | None = None,
                 apply_retention: bool = True) -> Any:
    """The library at ``location`` (path or URL), else ``$TELLTALE_LIBRARY``, else the default file.

    ``retention_days`` / ``apply_retention``: as for :class:`detectors.store.sqlite.Library`. Both
    back ends have the same public API; errors are :class:`LibraryError` with the URL redacted.
    """
    if location is None or str(location).strip() == "":
        location = os.environ.get(ENV_LIBRARY) or None
    if location is not None and is_url(str(location)):
        from .postgres import PostgresLibrary

        return PostgresLibrary(str(location), retention_days=retention_days, apply_retention=apply_retention)
    return Library(location, retention_days=retention_days, apply_retention=apply_retention)


def describe_location(location: str | Path | None) -> str:
    """The location as it may be shown or logged (a URL without its password)."""
    if location is None:
        location = os.environ.get(ENV_LIBRARY) or ""
    text = str(location)
    return redact_url(text) if is_url(text) else text
