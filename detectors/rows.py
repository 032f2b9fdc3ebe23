"""Per-frame (or per-hop) values of a recording, kept compactly while the pass runs.

A Python list of small arrays or floats costs 100-200 bytes of object overhead per entry, more
than the values themselves; over a two-hour recording that is hundreds of megabytes. A
:class:`RowBuffer` writes rows into large preallocated blocks instead and hands back one array
at the end.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BLOCK_ROWS = 4096
"""Rows per storage block (a block is allocated when the previous one is full)."""


class RowBuffer:
    """Rows of shape ``row_shape`` and ``dtype``, appended one or many at a time."""

    def __init__(self, row_shape: tuple[int, ...] = (), dtype: Any = np.float64, block_rows: int = BLOCK_ROWS) -> None:
        self.row_shape = tuple(row_shape)
        self.dtype = np.dtype(dtype)
        self._block_rows = block_rows
        self._blocks: list[np.ndarray] = []
        self._used = 0  # rows written in the last block

    def __len__(self) -> int:
        return max(0, len(self._blocks) - 1) * self._block_rows + self._used if self._blocks else 0

    def _room(self) -> np.ndarray:
        if not self._blocks or self._used == self._block_rows:
            self._blocks.append(np.empty((self._block_rows, *self.row_shape), self.dtype))
            self._used = 0
        return self._blocks[-1]

    def append(self, row: Any) -> None:
        """Add one row (anything that broadcasts to ``row_shape``; e.g. NaN fills a row)."""
        self._room()[self._used] = row
        self._used += 1

    def extend(self, rows: np.ndarray) -> None:
        """Add rows (N, *row_shape)."""
        rows = np.asarray(rows)
        start = 0
        while start < rows.shape[0]:
            block = self._room()
            n = min(rows.shape[0] - start, self._block_rows - self._used)
            block[self._used : self._used + n] = rows[start : start + n]
            self._used += n
            start += n

    def array(self) -> np.ndarray:
        """All rows as one array (a compact copy; the buffer stays usable)."""
        if not self._blocks:
            return np.zeros((0, *self.row_shape), self.dtype)
        parts = self._blocks[:-1] + [self._blocks[-1][: self._used]]
        return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()

    def take(self) -> np.ndarray:
        """All rows as one array; the buffer is emptied (its blocks are released)."""
        out = self.array()
        self._blocks, self._used = [], 0
        return out
