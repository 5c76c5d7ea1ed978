"""Radio dispatch: booked rides go to the vacant taxi with the shortest drive to them.

The fleet in the data (San Francisco's Yellow Cab) took phone bookings as well as street
hails. A booked passenger does not hail passing cabs: the dispatcher sends the vacant taxi
that can reach them soonest, which drives the shortest path there (its time on the way counts
as vacant time, as it does for a real cab). Which requests are bookings is unknown, so a
share of them is drawn at random; that share is calibrated on days before the evaluated ones.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from taxinav.sim.world import Network


class Router:
    """Shortest driving times *to* a target segment, over the legal moves of ``network``."""

    def __init__(self, network: Network, limit_s: float) -> None:
        self.network = network
        self.limit_s = limit_s
        n = network.n_segments
        src = np.repeat(np.arange(n), np.diff(network.succ_indptr))
        # Reversed graph: an edge succ → s weighs the time to drive s, so the distance from
        # the targets to s is the time from entering s to entering a target.
        self._reverse = csr_matrix(
            (network.travel_s[src], (network.succ_indices, src)), shape=(n, n)
        )
        # Segments from which a taxi serves a passenger on s (s is within their radius).
        holder = np.repeat(np.arange(n), np.diff(network.near_indptr))
        order = np.lexsort((holder, network.near_indices))
        self._served_from = holder[order]
        self._served_indptr = np.concatenate(
            [[0], np.cumsum(np.bincount(network.near_indices, minlength=n))]
        )

    def served_from(self, segment: int) -> NDArray[np.int64]:
        """Segments from which a taxi serves a passenger waiting on ``segment``."""
        lo, hi = self._served_indptr[segment], self._served_indptr[segment + 1]
        return self._served_from[lo:hi].astype(np.int64)

    def time_to(self, targets: NDArray[np.int64]) -> NDArray[np.float64]:
        """Free-flow seconds from entering each segment to entering any of ``targets``
        (inf beyond ``limit_s``)."""
        dist: NDArray[np.float64] = dijkstra(
            self._reverse, directed=True, indices=targets, min_only=True, limit=self.limit_s
        )
        return dist

    def next_toward(self, segment: int, time_to: NDArray[np.float64]) -> int:
        """The legal successor on a shortest path (lowest id on ties; the path always exists
        within the limit because the taxi was chosen by it)."""
        succ = self.network.successors(segment)
        return int(succ[np.argmin(time_to[succ])])


def eta_s(
    time_to: NDArray[np.float64], segment: NDArray[np.int64], remaining: NDArray[np.float64],
    travel: NDArray[np.float64],
) -> NDArray[np.float64]:  # fmt: skip
    """Seconds until a taxi on ``segment`` with ``remaining`` seconds left on it enters a
    target: the part of the segment already driven is subtracted from the time from its
    start. ``travel`` is the current time to drive each of those segments."""
    return np.maximum(time_to[segment] - (travel - remaining), 0.0)
