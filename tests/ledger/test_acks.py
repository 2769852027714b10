"""Signed acknowledgements: the hand-laid digest and signature are EIP-712's (checked against
eth-account and ethers.js), and any change to what was promised breaks the signature."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account

from ledger.signing.acks import (
    ACK_TYPES,
    Acknowledgement,
    AckSigner,
    ack_domain,
    verify_ack,
)
from ledger.signing.eip712 import SignatureError, digest, sign_typed_data

CHAIN_ID = 31337
FORWARDER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
SCRIPT = Path(__file__).parent.parent / "js" / "sign_typed_data.mjs"


@pytest.fixture
def relayer() -> tuple[Account, AckSigner]:
    account = Account.create()
    return account, AckSigner(bytes(account.key), CHAIN_ID, FORWARDER)


def typed(ack: Acknowledgement) -> dict:
    return {"message": ack.message, "acceptedAt": ack.accepted_at, "landBy": ack.land_by}


def test_an_acknowledgement_is_the_eip712_signature_eth_account_makes(relayer) -> None:
    account, signer = relayer
    ack = signer.sign(bytes(range(32)), 1_764_000_000, 12_345)
    domain = ack_domain(CHAIN_ID, FORWARDER)
    assert ack.relayer == account.address
    assert ack.signature == sign_typed_data(
        account, domain, ACK_TYPES, "Acknowledgement", typed(ack)
    )
    verify_ack(ack, CHAIN_ID, FORWARDER)
    assert Acknowledgement.from_json(json.loads(json.dumps(ack.to_json()))) == ack
    assert len(digest(domain, ACK_TYPES, "Acknowledgement", typed(ack))) == 32


def test_an_acknowledgement_is_the_eip712_signature_ethers_makes(relayer) -> None:
    account, signer = relayer
    ack = signer.sign(b"\xab" * 32, 1_764_000_001, 99)
    job = {
        "privateKey": account.key.hex(),
        "domain": ack_domain(CHAIN_ID, FORWARDER),
        "types": ACK_TYPES,
        "message": {"message": "0x" + ack.message.hex(), "acceptedAt": ack.accepted_at,
                    "landBy": ack.land_by},
    }  # fmt: skip
    out = subprocess.run(["node", str(SCRIPT)], input=json.dumps(job), text=True,
                         capture_output=True, check=True, timeout=60)  # fmt: skip
    assert json.loads(out.stdout)["signature"] == "0x" + ack.signature.hex()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda a: replace(a, land_by=a.land_by + 1),
        lambda a: replace(a, accepted_at=a.accepted_at - 60),
        lambda a: replace(a, message=b"\x00" + a.message[1:]),
        lambda a: replace(a, relayer=Account.create().address),
        lambda a: replace(a, signature=a.signature[:64] + bytes([55 - a.signature[64]])),
    ],
    ids=["later block", "earlier time", "other message", "other relayer", "flipped v"],
)
def test_a_changed_acknowledgement_no_longer_verifies(relayer, tamper) -> None:
    _, signer = relayer
    ack = signer.sign(b"\x11" * 32, 1_764_000_000, 500)
    with pytest.raises(SignatureError):
        verify_ack(tamper(ack), CHAIN_ID, FORWARDER)


def test_an_acknowledgement_binds_the_chain_and_the_deployment(relayer) -> None:
    _, signer = relayer
    ack = signer.sign(b"\x22" * 32, 1_764_000_000, 500)
    with pytest.raises(SignatureError):
        verify_ack(ack, CHAIN_ID + 1, FORWARDER)
    with pytest.raises(SignatureError):
        verify_ack(ack, CHAIN_ID, "0x" + "12" * 20)


def test_an_acknowledgement_kept_with_the_former_snake_case_names_still_reads(relayer) -> None:
    _, signer = relayer
    ack = signer.sign(bytes(range(32)), 1_764_000_000, 12_345)
    now = ack.to_json()
    assert {"acceptedAt", "landBy"} <= set(now) and "land_by" not in now
    kept = {k: v for k, v in now.items() if k not in ("acceptedAt", "landBy")}
    kept |= {"accepted_at": ack.accepted_at, "land_by": ack.land_by}
    assert Acknowledgement.from_json(kept) == ack
    verify_ack(Acknowledgement.from_json(kept), CHAIN_ID, FORWARDER)
    with pytest.raises(SignatureError, match="not an acknowledgement"):
        Acknowledgement.from_json({k: v for k, v in now.items() if k != "landBy"})
