"""An independent EIP-712 implementation (ethers.js 6) signs a ballot the contract accepts,
byte-for-byte the same signature as eth-account's."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.signing.ballots import attach_signature, make_ballot, typed_data_parts
from tests.contract_wrappers.council import NO, CouncilContract
from tests.contracts.conftest import Hall

SCRIPT = Path(__file__).parent.parent / "js" / "sign_typed_data.mjs"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def _ethers_sign(private_key: bytes, typed: tuple[dict, dict, str, dict]) -> dict[str, str]:  # type: ignore[type-arg]
    domain, types, _primary, message = typed
    payload = {
        "privateKey": "0x" + private_key.hex(),
        "domain": domain,
        "types": types,
        "message": {k: str(v) if isinstance(v, int) else v for k, v in message.items()},
    }
    out = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,  # resolves `ethers` from the project's node_modules
        timeout=60,
    )
    result: dict[str, str] = json.loads(out.stdout)
    return result


def test_ballot_signed_by_ethers_is_accepted_and_equals_eth_account_signature(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: Callable[..., int]
) -> None:
    pid = open_hall_proposal()
    voter = hall.signers[1]
    ballot = make_ballot(pid, voter.address, NO)
    ethers = _ethers_sign(bytes(voter.key), typed_data_parts(ballot, council_client.domain))
    ours = council_client.sign_ballot(voter, pid, NO)
    assert ethers["signer"] == voter.address
    assert bytes.fromhex(ethers["digest"][2:]) == ours.digest
    assert bytes.fromhex(ethers["signature"][2:]) == ours.signature  # RFC 6979: deterministic
    signed = attach_signature(ballot, council_client.domain, bytes.fromhex(ethers["signature"][2:]))
    result = council_client.cast_ballots(hall.admin, pid, [signed])
    assert [(c.voter, c.option, c.digest) for c in result.cast] == [
        (voter.address, NO, ours.digest)
    ]
    assert council_client.tally(pid) == (0, 1, 0)
