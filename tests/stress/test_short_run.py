"""The short stress run (`python -m stress --short`) inside `make test`: the real API and the
real chain supervisor under a steady load of signed ballots and service records, through every
fault — kill -9 of the chain (it rewinds to its last snapshot), of the API, of both, a torn
newest snapshot, a full data disk, a relayer out of gas money — and then, from the chain itself,
every acknowledged message landed exactly once.

Asserts correctness only, never throughput: it must not flake on a loaded two-core machine.
Figures of the last run: test-artifacts/stress/stress-short.{json,md}.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ledger.config import PROJECT_ROOT
from stress.__main__ import short_config
from stress.run import execute

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "stress"
RATE = 80.0  # messages/s: a fraction of what the machine sustains, even shared with other tests

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]


@pytest.fixture(scope="module")
def results(build_cache: Path) -> dict[str, Any]:
    config = short_config(rate=RATE)
    config.audit_build_cache = str(build_cache)
    return execute(config, ARTIFACTS)


def test_every_acknowledged_message_lands_exactly_once_through_every_fault(
    results: dict[str, Any],
) -> None:
    a = results["accounting"]
    assert a["acknowledged"] > 0
    assert a["lost"] == 0, a["lost_keys"]
    assert a["duplicated"] == 0, a["duplicated_keys"]
    assert a["phantom"] == 0
    # A retrying client gets every message acknowledged in the end: no 4xx for a server fault
    # (a full disk is a 503), and nothing left unacknowledged.
    assert a["refused"] == 0, results["refusal_examples"]
    assert a["unacknowledged"] == 0
    assert a["landed"] == a["acknowledged"] == a["offered"]


def test_receipts_tallies_balances_and_index_agree_with_the_chain_after_recovery(
    results: dict[str, Any],
) -> None:
    outbox = results["outbox"]
    assert outbox["acknowledged_but_not_in_outbox"] == 0
    assert outbox["counted_but_not_that_tx_on_chain"] == 0, outbox["examples"]
    assert set(outbox["receipt_status"]) == {"counted"}, outbox["receipt_status"]
    assert results["tallies"]["ok"], results["tallies"]
    assert results["timebank"]["ok"], results["timebank"]
    assert results["index"]["ok"], results["index"]


def test_every_fault_was_injected_and_the_chain_rewound_at_least_once(
    results: dict[str, Any],
) -> None:
    faults = {f["name"]: f for f in results["faults"]}
    assert set(faults) == set(short_config().faults)
    assert not [f for f in faults.values() if "error" in f], results["faults"]
    # The kill -9 faults are only meaningful if the chain lost blocks the relay had settled.
    rewinds = [faults[n]["blocks_rewound"] for n in ("chain_kill9", "torn_snapshot")]
    assert max(rewinds) > 0, rewinds
    assert faults["torn_snapshot"]["skipped_as_torn"]
    # Out of gas money means out: nothing of the relayer's is mined until it is refilled.
    assert faults["relayer_out_of_gas"]["relayer_txs_while_dry"] == 0, faults["relayer_out_of_gas"]
    # The jam cleared: four ~9.2M-gas requests sent at once all landed, under the load.
    jam = faults["relay_jam"]
    assert jam["statuses"] == ["counted"] * 4 and jam["roll_size"] == 4 * 380, jam
    if os.geteuid() == 0:
        full = faults["disk_full"]
        assert "skipped" not in full, full
        assert full["chain_survived"] and full["api_survived"], full


def test_commons_audit_of_the_chain_after_the_faults_is_clean(results: dict[str, Any]) -> None:
    audit = results["audit"]
    if not audit.get("available"):
        pytest.skip(audit.get("detail", "commons audit not available"))
    assert audit["clean"], audit["tail"]
