"""What the relay kinds that go through the PollOffice share (a poll officer's in-person ballot,
an officer's paper-box totals): the contracts, the online ballot relay whose election rules they
apply too, the PollOffice's EIP-712 domain and the batch sizes."""

from __future__ import annotations

from web3 import Web3
from web3.contract import Contract

from ledger.config import Settings
from ledger.hashing import checksum_address
from ledger.relay.election_ballots import ElectionBallotRelay
from ledger.signing.in_person_ballots import PollOfficeDomain


class PollOfficeRelay:
    def __init__(
        self,
        w3: Web3,
        poll_office: Contract,
        registry: Contract,
        online: ElectionBallotRelay,
        settings: Settings,
    ) -> None:
        self.max_batch = settings.relay_ballot_batch
        self.base_gas = settings.relay_batch_base_gas
        self.poll_office = poll_office
        self.registry = registry
        self.online = online
        self.domain = PollOfficeDomain(w3.eth.chain_id, checksum_address(poll_office.address))
