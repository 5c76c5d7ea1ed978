"""Who neighbours whom: H3 rings, road hops, grid rows/columns, nearest points.

Every builder returns a table ``(unit_id, nbr_id, ring)`` with ring 1 and 2, self excluded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import h3
import numpy as np
import pyarrow as pa
from scipy.spatial import cKDTree

NEIGHBOR_SCHEMA = pa.schema(
    [("unit_id", pa.string()), ("nbr_id", pa.string()), ("ring", pa.int64())]
)


def _table(rows: Iterable[tuple[str, str, int]]) -> pa.Table:
    u, n, r = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table(
        {"unit_id": list(u), "nbr_id": list(n), "ring": list(r)}, schema=NEIGHBOR_SCHEMA
    )


def h3_rings(cells: Sequence[str]) -> pa.Table:
    """k-ring 1 and 2 among ``cells``."""
    known = set(cells)
    rows = [
        (c, n, k) for c in cells for k in (1, 2) for n in sorted(h3.grid_ring(c, k)) if n in known
    ]
    return _table(rows)


def road_hops(succ_indptr: np.ndarray, succ_indices: np.ndarray) -> pa.Table:
    """Segments one (ring 1) or two (ring 2) moves upstream or downstream."""
    n = int(succ_indptr.shape[0] - 1)
    down = [set(succ_indices[succ_indptr[s] : succ_indptr[s + 1]].tolist()) for s in range(n)]
    up: list[set[int]] = [set() for _ in range(n)]
    for s in range(n):
        for t in down[s]:
            up[t].add(s)
    rows: list[tuple[str, str, int]] = []
    for s in range(n):
        ring1 = (down[s] | up[s]) - {s}
        ring2 = set().union(*(down[t] for t in down[s]), *(up[t] for t in up[s])) - ring1 - {s}
        rows += [(str(s), str(t), 1) for t in sorted(ring1)]
        rows += [(str(s), str(t), 2) for t in sorted(ring2)]
    return _table(rows)


def grid_rings(unit_ids: Sequence[str], row: np.ndarray, col: np.ndarray) -> pa.Table:
    """Chebyshev distance 1 and 2 on a row/column grid."""
    where = {(int(r), int(c)): u for u, r, c in zip(unit_ids, row, col, strict=True)}
    rows = []
    for u, r, c in zip(unit_ids, row, col, strict=True):
        for dr in range(-2, 3):
            for dc in range(-2, 3):
                other = where.get((int(r) + dr, int(c) + dc))
                if other is not None and other != u:
                    rows.append((u, other, max(abs(dr), abs(dc))))
    return _table(rows)


def nearest_rings(unit_ids: Sequence[str], lat: np.ndarray, lon: np.ndarray) -> pa.Table:
    """The 6 nearest units as ring 1 and the next 12 as ring 2, like hexagon rings."""
    xy = np.column_stack([np.radians(lat), np.radians(lon) * np.cos(np.radians(np.mean(lat)))])
    k = min(19, len(unit_ids))
    _, idx = cKDTree(xy).query(xy, k=k)
    rows = []
    for i, u in enumerate(unit_ids):
        others = [j for j in np.atleast_1d(idx[i]).tolist() if j != i]
        rows += [(u, unit_ids[j], 1 if rank < 6 else 2) for rank, j in enumerate(others)]
    return _table(rows)
