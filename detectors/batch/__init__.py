"""Batch screening: a folder of candidates analysed on Dask, on one laptop or a cluster.

    telltale batch FOLDER [--workers N] [--scheduler ADDRESS] [--library PATH|URL] [--out DIR]

* :mod:`.folder` — what a batch folder holds (one subfolder per candidate) and the content
  hashes that make a re-run skip unchanged candidates;
* :mod:`.tasks` — what the workers run (photo encoding, recording passes, candidate scoring)
  and the worker plugin that loads the models once per worker;
* :mod:`.runner` — the client: scheduling, the library's single writer, reports, summary;
* :mod:`.command` — the ``telltale batch`` subcommand and its terminal progress.

The engine's public calls stay :func:`run_batch` and :func:`scan_folder`; nothing here imports Qt.
"""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add ``telltale batch`` to the command line (see :mod:`detectors.cli`)."""
    from .command import register as _register

    _register(sub)


def __getattr__(name: str) -> Any:  # lazy: importing the package must not start Dask
    if name in ("run_batch", "BatchOptions", "BatchResult", "BatchProgress", "CandidateRow"):
        from . import runner

        return getattr(runner, name)
    if name in ("scan_folder", "CandidateFolder", "BatchFolderError"):
        from . import folder

        return getattr(folder, name)
    raise AttributeError(name)
