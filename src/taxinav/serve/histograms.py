"""Latency histograms kept as plain counts (Prometheus families are built when scraped)."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable
from itertools import accumulate

from prometheus_client.metrics_core import HistogramMetricFamily

__all__ = ["HTTP_BUCKETS", "Histograms"]

# Request latency buckets (seconds): reads answer in milliseconds, a route re-draw in tens.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histograms:
    """Durations per label values as histogram counts: observing costs a bisect and a dict
    lookup under a lock; the Prometheus families are built when scraped."""

    def __init__(self, name: str, documentation: str, labels: list[str],
                 buckets: Iterable[float] = HTTP_BUCKETS) -> None:  # fmt: skip
        self.name, self.documentation, self.labels = name, documentation, labels
        self.bounds = tuple(sorted(buckets))
        self._lock = threading.Lock()
        # label values → [count per bucket …, count above the last bound, sum]
        self._series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, values: tuple[str, ...], seconds: float) -> None:
        i = bisect_left(self.bounds, seconds)  # the first bucket whose bound is ≥ seconds
        with self._lock:
            row = self._series.get(values)
            if row is None:
                row = self._series[values] = [0.0] * (len(self.bounds) + 2)
            row[i] += 1
            row[-1] += seconds

    def rows(self) -> list[tuple[list[str], list[float]]]:
        """The raw counts per label values, to be ``absorb``-ed by another process's copy."""
        with self._lock:
            return [(list(key), list(row)) for key, row in sorted(self._series.items())]

    def absorb(self, rows: Iterable[tuple[Iterable[str], Iterable[float]]]) -> None:
        """Add another copy's ``rows`` (same buckets) to these counts."""
        with self._lock:
            for key, row in rows:
                mine = self._series.setdefault(tuple(key), [0.0] * (len(self.bounds) + 2))
                for i, n in enumerate(row):
                    mine[i] += n

    def series(self) -> list[tuple[tuple[str, ...], list[float], float]]:
        """(label values, cumulative bucket counts ending with +Inf, sum) per series."""
        with self._lock:
            rows = sorted((key, list(row)) for key, row in self._series.items())
        return [(key, list(accumulate(row[:-1])), row[-1]) for key, row in rows]

    def family(self) -> HistogramMetricFamily:
        out = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        les = [_le(b) for b in self.bounds] + ["+Inf"]
        for values, cumulative, total in self.series():
            out.add_metric(list(values), list(zip(les, cumulative, strict=True)), total)
        return out


def _le(bound: float) -> str:
    """A bucket bound as Prometheus writes it (``0.005``, ``1.0``)."""
    return repr(float(bound))
