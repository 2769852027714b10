"""In-person ballots through the real API: an officer's signed ballot is checked (signature,
POLL_OFFICER, the election's rules across both channels), acknowledged, relayed through the
PollOffice and receipted; GET /v1/elections/{id} counts the ballots by channel."""

from __future__ import annotations

import time

import httpx
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.acks import AckEntry, check_acks
from ledger.audit.auditor import _addresses
from ledger.protocol.generated import ElectionKind, Roles
from ledger.signing.acks import Acknowledgement
from ledger.signing.election_ballots import encode_approval, encode_ranking
from ledger.transport import RpcClient
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.poll_office import PollOfficeContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys
from tests.e2e.conftest import LiveSystem, live

__all__ = ["live"]  # the fixture, shared with the end-to-end tests


class _Channels:
    """A community with a poll officer and four residents on its roll, one election in it, and
    its two ways in: an officer's in-person ballot and a resident's own."""

    def __init__(self, live: LiveSystem, accounts: list[LocalAccount], kind: ElectionKind) -> None:
        w3 = live.w3
        self.live = live
        registry = RegistryContract(w3, live.deployment.registry)
        self.elections = ElectionsContract(w3, live.deployment.elections)
        self.office = PollOfficeContract(w3, live.deployment.poll_office, live.deployment.elections)
        admin, committee, self.officer = accounts[0], accounts[1], accounts[6]
        community = registry.create_community(admin, Web3.keccak(text=f"in person api {kind}"))
        registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
        registry.grant_role(admin, community, Roles.COMMITTEE, committee.address)
        registry.grant_role(admin, community, Roles.POLL_OFFICER, self.officer.address)
        self.voters = signer_keys(4, f"in-person-api-{kind}")
        registry.update_roll(admin, community, [v.address for v in self.voters])
        now = int(w3.eth.get_block("latest")["timestamp"])
        self.kind = kind
        params = ElectionParams(community, candidates(3), now, now + 600, kind=kind)
        self.eid = self.elections.open_election(committee, params)

    def _choices(self, picked: list[int]) -> int:
        return (
            encode_ranking(picked) if self.kind == ElectionKind.Ranked else encode_approval(picked)
        )

    def in_person(
        self, signer: LocalAccount, voter: LocalAccount, picked: list[int]
    ) -> httpx.Response:
        choices = self._choices(picked)
        signed = self.office.sign(signer, self.eid, voter.address, choices)
        body = {
            "electionId": self.eid,
            "voter": voter.address,
            "choices": choices,
            "officer": signer.address,
            "signature": "0x" + signed.signature.hex(),
        }
        return httpx.post(f"{self.live.url}/v1/in-person-ballots", json=body)

    def online(self, voter: LocalAccount, picked: list[int]) -> httpx.Response:
        choices = self._choices(picked)
        signed = self.elections.sign(voter, self.eid, choices)
        body = {
            "electionId": self.eid,
            "voter": voter.address,
            "choices": choices,
            "signature": "0x" + signed.signature.hex(),
        }
        return httpx.post(f"{self.live.url}/v1/election-ballots", json=body)

    def counts(self, in_person: int) -> tuple[int, int, int]:
        """(ballotCount, onlineCount, inPersonCount) once the index has `in_person` of them."""
        deadline = time.monotonic() + 20
        while True:
            election = httpx.get(f"{self.live.url}/v1/elections/{self.eid}").json()
            if election["inPersonCount"] == in_person or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return election["ballotCount"], election["onlineCount"], election["inPersonCount"]


def test_in_person_ballots_are_checked_relayed_receipted_and_counted_by_channel(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    w3 = live.w3
    ch = _Channels(live, accounts, ElectionKind.Ranked)
    officer, voters, in_person, online = ch.officer, ch.voters, ch.in_person, ch.online

    accepted = [in_person(officer, voters[0], [2, 0]), in_person(officer, voters[1], [1])]
    accepted.append(online(voters[2], [0]))
    assert [a.status_code for a in accepted] == [202, 202, 202]
    receipts = live.client.wait_all([a.json() for a in accepted])
    assert [r["status"] for r in receipts] == ["counted"] * 3
    # Refused before the chain: online after in person, in person after online, no officer.
    after_in_person = online(voters[0], [1])
    after_online = in_person(officer, voters[2], [1])
    not_officer = in_person(voters[3], voters[3], [1])
    assert (after_in_person.status_code, after_in_person.json()["code"]) == (409, "AlreadyVoted")
    assert (after_online.status_code, after_online.json()["code"]) == (409, "AlreadyVoted")
    assert (not_officer.status_code, not_officer.json()["code"]) == (403, "NotPollOfficer")

    assert ch.counts(in_person=2) == (3, 1, 2)

    # The relay's acknowledgements of the in-person ballots are found landed by the audit.
    page = httpx.get(f"{live.url}/v1/relay/acks", params={"limit": 1000}).json()
    mine = [i for i in page["items"] if i["id"] in {r["id"] for r in receipts[:2]}]
    assert [i["kind"] for i in mine] == ["in-person-ballot"] * 2
    entries = [
        AckEntry(Acknowledgement.from_json(i["ack"]), i["id"], i["kind"], i.get("payload"))
        for i in mine
    ]
    record = live.deployment.record
    with RpcClient(live.node.url) as client:
        judged = check_acks(
            client, w3.eth.chain_id, _addresses(record), int(record["block"]),
            w3.eth.block_number, entries,
        )  # fmt: skip
    assert judged.findings == [] and judged.warnings == []
    assert [e["verdict"] for e in judged.entries] == ["landed", "landed"]


def test_an_approval_elections_ballots_are_counted_by_channel(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    # An approval election keeps no ballots (its ballotCount stays 0): the API counts its
    # residents' own ballots, and which of them came in person, from the batch events.
    ch = _Channels(live, accounts, ElectionKind.Approval)
    accepted = [
        ch.in_person(ch.officer, ch.voters[0], [0, 2]),
        ch.online(ch.voters[1], [1]),
        ch.online(ch.voters[2], [0, 1]),
    ]
    assert [a.status_code for a in accepted] == [202, 202, 202]
    receipts = ch.live.client.wait_all([a.json() for a in accepted])
    assert [r["status"] for r in receipts] == ["counted"] * 3
    assert ch.counts(in_person=1) == (3, 2, 1)
