"""The spatial demand field: a density map stretched over the city's square."""

from __future__ import annotations

import numpy as np
import pytest

from taxinav.synth import demand_field
from taxinav.synth.demand import FLOOR


def test_a_density_map_is_stretched_over_the_city_with_a_floor() -> None:
    h = 1000.0
    # Row 0 south, column 0 west: south-west 1, north-east 3, the rest empty (mean 1).
    density = np.array([[1.0, 0.0], [0.0, 3.0]])
    x = np.array([-h / 2, h / 2, -h / 2, h / 2, -h, h])  # SW, SE, NW, NE, then the corners
    y = np.array([-h / 2, -h / 2, h / 2, h / 2, -h, h])
    field = demand_field(x, y, seed=0, density=density)
    raw = FLOOR * 1.0 + np.array([1.0, 0.0, 0.0, 3.0, 1.0, 3.0])
    assert field.intensity(x, y) == pytest.approx(raw / raw.mean())
    assert field.intensity(x, y).mean() == pytest.approx(1.0)


def test_the_built_in_field_is_busiest_at_the_centre() -> None:
    x = np.array([0.0, 900.0, -900.0, 0.0, 0.0])
    y = np.array([0.0, 0.0, 0.0, 900.0, -900.0])
    field = demand_field(x, y, seed=0)
    assert int(np.argmax(field.intensity(x, y))) == 0
