"""Two runs at once on one sync store that holds rows already, 20 rounds on SQLite and on
PostgreSQL: run A writes V1 and run B writes V2 at the same moment, then a third run
writes V1. Before the store was locked, one run's batches overwrote the other's
fingerprints (and on PostgreSQL, its delete-then-insert batches failed on each other's
keys), so the third run skipped as unchanged users whose name in Intercom was V2."""

from __future__ import annotations

import pytest

from tests.conftest import config_for
from tests.store_runs import (
    Cli,
    assert_no_duplicate,
    names,
    new_store,
    users,
)

ROUNDS = 20


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_runs_at_once_on_an_existing_store_lose_no_update_twenty_rounds(
    fake, backend, tmp_path, request
):
    """Run A writes V1 and run B writes V2 at once; a third run with V1 must then leave
    V1 in Intercom for every user: none skipped as unchanged on a fingerprint of a value
    the other run overwrote."""
    n = 500
    store = new_store(backend, request, tmp_path / "store")
    config = config_for(fake, **store, max_concurrency=8)
    code, err = Cli(tmp_path / "first", config, users(n, "V0")).end()
    assert code == 0, err[-2000:]
    failures, lost = [], {}
    for round_ in range(ROUNDS):
        v1, v2 = f"V1 {round_}", f"V2 {round_}"
        runs = [
            Cli(tmp_path / f"r{round_}-{side}", config, users(n, value))
            for side, value in (("a", v1), ("b", v2))
        ]
        failures += [(round_, err[-600:]) for code, err in (run.end() for run in runs) if code]
        code, err = Cli(tmp_path / f"r{round_}-c", config, users(n, v1)).end()
        assert code == 0, err[-2000:]
        held = names(fake)
        wrong = sorted(k for k in held if held[k] != v1)
        if wrong:
            lost[round_] = len(wrong)
        assert_no_duplicate(fake)
        assert len(held) == n
    assert failures == [] and lost == {}
