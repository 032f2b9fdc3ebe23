"""Both library back ends for tests: a private PostgreSQL server (the ``pgserver`` wheel) and
SQLite files, behind one parametrised fixture.

* ``pg_server`` (session): starts PostgreSQL 16 + pgvector in a temporary folder (no root
  service, a Unix socket in that folder, no TCP port), creates a template database with the
  Telltale schema, and stops the server at the end by the PID in ``postmaster.pid``.
* ``backend`` (module, params "sqlite" / "postgres") and ``locations``: ``locations.new()``
  gives a fresh, empty library location of that back end (a file path, or a URL of a new
  database copied from the template); ``open_library(location)`` opens either.
* ``library``: a fresh open library of the module's back end.

Test modules outside tests/store import these fixtures: ``from store.backends import ...``.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from detectors.store import open_library

BACKENDS = ("sqlite", "postgres")
TEMPLATE_DB = "telltale_template"
STOP_WAIT_S = 30.0


class PgServer:
    """A private PostgreSQL server in ``folder`` and fresh databases on it."""

    def __init__(self, folder: Path) -> None:
        import pgserver
        import psycopg

        self.folder = folder
        self.uri = pgserver.get_server(folder, cleanup_mode=None).get_uri()
        self._count = itertools.count()
        with psycopg.connect(self.uri, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        with psycopg.connect(self.url(TEMPLATE_DB), autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS vector")
        open_library(self.url(TEMPLATE_DB)).close()  # the schema, once

    def url(self, dbname: str) -> str:
        """The server's URL with another database name (the socket folder stays in the query)."""
        head, _, query = self.uri.partition("?")
        return head.rsplit("/", 1)[0] + f"/{dbname}" + (f"?{query}" if query else "")

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self._count)}"
        with psycopg.connect(self.uri, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT) of the postmaster named in postmaster.pid; wait until it is gone."""
        pidfile = self.folder / "postmaster.pid"
        if not pidfile.exists():
            return
        pid = int(pidfile.read_text().split("\n", 1)[0])
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    pytest.importorskip("pgserver", reason="the pgserver wheel (a dev dependency) runs PostgreSQL for these tests")
    server = PgServer(tmp_path_factory.mktemp("pg"))
    try:
        yield server
    finally:
        server.stop()


class Locations:
    """Fresh library locations of one back end."""

    def __init__(self, backend: str, folder: Path, pg: PgServer | None) -> None:
        self.backend, self.folder, self.pg = backend, folder, pg
        self._count = itertools.count()

    def new(self, name: str = "lib") -> str:
        if self.backend == "postgres":
            assert self.pg is not None
            return self.pg.new_database()
        folder = self.folder / f"{name}{next(self._count)}"
        return str(folder / "lib.sqlite")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def locations(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Locations:
    pg = request.getfixturevalue("pg_server") if backend == "postgres" else None
    return Locations(backend, tmp_path_factory.mktemp(backend), pg)


@pytest.fixture
def library(locations: Locations) -> Iterator[Any]:
    lib = open_library(locations.new())
    try:
        yield lib
    finally:
        lib.close()
