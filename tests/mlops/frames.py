"""A small synthetic demand frame: the target follows the last count."""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ("lag_1", "hour_sin")


def demand_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lag = rng.poisson(3.0, n).astype(float)
    return pd.DataFrame({"lag_1": lag, "hour_sin": rng.random(n), "y": rng.poisson(lag + 0.5)})
