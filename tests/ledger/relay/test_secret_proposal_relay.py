"""The relay refuses, before acknowledgement, an open ballot or a proxy ballot on a proposal
decided by secret ballot: the contract would only skip it (SecretBallotsOnly)."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.errors import InvalidMessage
from ledger.protocol.generated import BallotKind
from ledger.relay.ballots import BallotRelay
from ledger.signing.ballots import make_ballot, sign_ballot
from ledger.tx import send
from tests.relay_support import open_election


def test_an_open_ballot_on_a_secret_proposal_is_refused_before_acknowledgement(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], settings: Settings
) -> None:
    _, residents = open_election(w3, system, accounts, voters=2, tag=71)
    community = system.registry.functions.communityCount().call()
    now = w3.eth.get_block("latest")["timestamp"]
    params = (community, b"\x48" * 32, int(BallotKind.SecretYesNoAbstain), 3, now - 1,
              now + 3600, 0, 5000, 0, b"\x00" * 3)  # fmt: skip
    send(w3, accounts[2], system.council.functions.openProposal(params))
    proposal = system.council.functions.proposalCount().call()
    kind = BallotRelay(w3, system.council, system.registry, settings)
    voter = residents[0]
    signed = sign_ballot(voter, make_ballot(proposal, voter.address, 0), kind.domain)
    payload = {"proposalId": proposal, "voter": voter.address, "option": 0,
               "signature": "0x" + signed.signature.hex()}  # fmt: skip
    message = kind.parse(payload)
    with pytest.raises(InvalidMessage) as refused:
        kind.check(message)
    assert refused.value.code == "BallotsAreSecret"
