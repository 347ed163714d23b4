"""The one value that carries every wait: each of them bounded."""

from __future__ import annotations

import math
from typing import Any

import pytest

from target_intercom.waits import Waits


@pytest.mark.parametrize(
    "change",
    [
        {"backoff_max": math.inf},
        {"reset_max": math.nan},
        {"reset_unknown": -1.0},
        {"lead_search": (0.0, -1.0)},
        {"conflict_retries": (math.inf,)},
    ],
)
def test_a_wait_that_is_negative_or_unbounded_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="every wait must be a finite number of seconds"):
        Waits(**change)


def test_the_lead_search_lasts_the_sum_of_its_waits() -> None:
    assert Waits(lead_search=(0.0, 0.5, 1.5)).lead_search_total == 2.0
    assert Waits().lead_search_total == 15.0
