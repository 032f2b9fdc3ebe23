"""RowBuffer: rows appended one or many at a time come back as the stacked array."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.rows import RowBuffer


@pytest.mark.parametrize("block_rows", [1, 3, 4, 100])
def test_rows_come_back_in_order_across_blocks(block_rows: int) -> None:
    rng = np.random.default_rng(block_rows)
    buf = RowBuffer((2, 3), np.float32, block_rows=block_rows)
    expected = []
    for i in range(9):
        if i % 3 == 0:
            rows = rng.normal(size=(i % 5 + 1, 2, 3)).astype(np.float32)
            buf.extend(rows)
            expected.extend(rows)
        elif i % 3 == 1:
            buf.append(np.nan)  # broadcasts to a row of NaN
            expected.append(np.full((2, 3), np.nan, np.float32))
        else:
            row = rng.normal(size=(2, 3)).astype(np.float32)
            buf.append(row)
            expected.append(row)
    assert len(buf) == len(expected)
    assert np.array_equal(buf.array(), np.stack(expected), equal_nan=True)
    out = buf.take()
    assert out.dtype == np.float32 and out.shape == (len(expected), 2, 3)
    assert len(buf) == 0 and buf.take().shape == (0, 2, 3)


def test_scalar_rows() -> None:
    buf = RowBuffer((), np.int16)
    for v in (3, -1, 2):
        buf.append(v)
    buf.extend(np.array([7, 8]))
    assert buf.take().tolist() == [3, -1, 2, 7, 8]
