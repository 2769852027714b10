"""Secret votes through the real API, relay and chain: a 2-of-3 vote is listed and read with
its election key; residents' encrypted ballots are acknowledged, counted and found by voter;
nothing partial is shown before the close; the tally once finalized; refusals carry reasons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from api.secret_schemas import SecretDisqualifyReasonName, SecretVoteStateName
from ledger.audit.acks import AckEntry, check_acks
from ledger.audit.auditor import _addresses
from ledger.node import rpc
from ledger.protocol.generated import Roles, SecretDisqualifyReason, SecretVoteState
from ledger.signing.acks import Acknowledgement
from ledger.transport import RpcClient
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import (
    CHALLENGES,
    VOTING,
    SecretBallotContract,
    SecretVoteParams,
    Trustee,
)
from tests.contracts.conftest import signer_keys
from tests.e2e.conftest import LiveSystem
from tests.e2e.conftest import live as _live  # noqa: F401  (the live system, as a fixture)


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest) -> LiveSystem:
    system: LiveSystem = request.getfixturevalue("_live")
    return system


class ChainClock:
    """Moves the chain by mining a block at an explicit time (no wall-clock drift)."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance(self, seconds: int) -> None:
        rpc(self.w3, "evm_mine", [self.now() + seconds])


@dataclass
class Vote:
    id: int
    community: int
    voters: list[LocalAccount]
    trustees: list[Trustee]
    secret: SecretBallotContract
    clock: ChainClock


def _opened(
    live: LiveSystem, accounts: list[LocalAccount], name: str, residents: int, trustees: int
) -> Vote:
    """A community `name` with `residents` on its roll and a 2-of-`trustees` vote of three
    options just opened by its committee (the key generation not yet played)."""
    w3 = live.w3
    registry = RegistryContract(w3, live.deployment.registry)
    admin, committee = accounts[0], accounts[1]
    community = registry.create_community(admin, Web3.keccak(text=name))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, committee.address)
    voters = signer_keys(residents, name)
    registry.update_roll(admin, community, [v.address for v in voters])
    secret = SecretBallotContract(w3, live.deployment.secret)
    clock = ChainClock(w3)
    named = [Trustee(k, accounts[4 + k], 2) for k in range(1, trustees + 1)]
    params = SecretVoteParams(community, tuple(t.account.address for t in named), 2, clock.now())
    vote_id = secret.open_vote(committee, params)
    return Vote(vote_id, community, voters, named, secret, clock)


@pytest.fixture(scope="module")
def vote(live: LiveSystem, accounts: list[LocalAccount]) -> Vote:
    """A community of six residents and a 2-of-3 vote of three options whose key is made."""
    opened = _opened(live, accounts, "secret-api", residents=6, trustees=3)
    opened.secret.run_key_generation(opened.id, opened.trustees, opened.clock)
    live.client.wait_indexed(live.w3.eth.block_number)
    return opened


def _body(vote: Vote, voter: LocalAccount, words: list[int]) -> dict[str, Any]:
    signed = vote.secret.sign(voter, vote.id, words)
    return {
        "voteId": vote.id,
        "voter": voter.address,
        "words": [hex(w) for w in words],
        "signature": "0x" + signed.signature.hex(),
    }


def _post(live: LiveSystem, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{live.url}/v1/secret-ballots", json=body, timeout=30)


def _tally(live: LiveSystem, vote: Vote) -> httpx.Response:
    return httpx.get(f"{live.url}/v1/secret-votes/{vote.id}/tally", timeout=30)


def _ballot(vote: Vote, voter: LocalAccount, choice: int) -> dict[str, Any]:
    return _body(vote, voter, vote.secret.ballot_words(vote.id, voter.address, choice))


def test_a_secret_vote_is_listed_with_its_key_and_no_partial_result(
    live: LiveSystem, vote: Vote
) -> None:
    listed = live.client.get("/v1/secret-votes", community=vote.community)
    assert [v["voteId"] for v in listed["items"]] == [vote.id]
    got = live.client.get(f"/v1/secret-votes/{vote.id}")
    assert got["state"] == "Open"
    assert got["optionCount"] == 3 and got["threshold"] == 2 and len(got["trustees"]) == 3
    assert got["qualified"] == [1, 2, 3]
    steps = got["trusteeSteps"]
    assert [(t["trustee"], t["address"]) for t in steps] == [
        (t.number, t.account.address) for t in vote.trustees
    ]
    assert all(t["keyRegistered"] and t["dealt"] and t["disqualified"] is None for t in steps)
    assert not any(t["publishedPartial"] for t in steps)
    key = vote.secret.election_key(vote.id)
    assert [int(w, 16) for w in got["electionKey"]] == list(key.words())
    assert got["contract"] == live.deployment.secret.address
    assert (got["question"], got["options"]) == (None, None)  # nobody stored its text
    # Before the close nothing would tell how anyone voted: no count, no aggregate, no tally.
    assert (got["ballotCount"], got["aggregate"], got["tally"]) == (None, None, None)
    missing = httpx.get(f"{live.url}/v1/secret-votes/999999")
    assert (missing.status_code, missing.json()["code"]) == (404, "UnknownSecretVote")


def test_refusals_carry_the_reason_before_acknowledgement(live: LiveSystem, vote: Vote) -> None:
    voter, other = vote.voters[5], vote.voters[4]
    copied = vote.secret.ballot_words(vote.id, other.address, 0)
    refused = _post(live, _body(vote, voter, copied))
    assert (refused.status_code, refused.json()["code"]) == (422, "InvalidBallotProof")
    words = vote.secret.ballot_words(vote.id, voter.address, 0)
    off_curve = _post(live, _body(vote, voter, [words[0], words[1] + 1, *words[2:]]))
    assert (off_curve.status_code, off_curve.json()["code"]) == (422, "InvalidBallotPoint")
    short = _post(live, _body(vote, voter, words[:-7]))
    assert (short.status_code, short.json()["code"]) == (422, "MalformedBallot")
    (stranger,) = signer_keys(1, "secret-api-stranger")
    own = _ballot(vote, stranger, 0)
    assert _post(live, own).json()["code"] == "VoterNotOnRoll"


def test_ballots_are_counted_found_by_voter_and_the_tally_shown_once_finalized(
    live: LiveSystem, vote: Vote
) -> None:
    choices = [0, 1, 1, 2]
    receipts = [
        _post(live, _ballot(vote, v, c)).json() for v, c in zip(vote.voters, choices, strict=False)
    ]
    assert {r["kind"] for r in receipts} == {"secret-ballot"}
    again = _post(live, _ballot(vote, vote.voters[0], 2))
    assert (again.status_code, again.json()["code"]) == (409, "AlreadyVoted")
    landed = live.client.wait_all(receipts)
    assert [d["status"] for d in landed] == ["counted"] * 4
    live.client.wait_indexed(max(d["block"] for d in landed))
    found = live.client.get(f"/v1/secret-votes/{vote.id}/ballots/{vote.voters[1].address}")
    assert found["voted"] and not found["voided"]
    assert found["txHash"] == landed[1]["txHash"] and found["batch"] is not None
    assert found["ballotHash"] == landed[1]["detail"]
    absent = live.client.get(f"/v1/secret-votes/{vote.id}/ballots/{vote.voters[5].address}")
    assert (absent["voted"], absent["batch"]) == (False, None)
    during = live.client.get(f"/v1/secret-votes/{vote.id}")
    assert (during["castCount"], during["ballotCount"], during["aggregate"]) == (4, None, None)

    vote.clock.advance(VOTING)
    closed = live.client.get(f"/v1/secret-votes/{vote.id}")
    assert closed["state"] == "Challenges"
    assert closed["ballotCount"] == 4 and len(closed["aggregate"]) == 12
    assert closed["tally"] is None
    assert _tally(live, vote).json()["code"] == "TallyNotReady", "no count before decryption"
    vote.clock.advance(CHALLENGES)
    receipt = vote.secret.publish(vote.id, vote.trustees[0])
    live.client.wait_indexed(int(receipt["blockNumber"]))
    one = _tally(live, vote)
    assert (one.status_code, one.json()["code"]) == (409, "TallyNotReady")
    assert "1 partial decryptions published; 2 needed" in one.json()["detail"]
    receipt = vote.secret.publish(vote.id, vote.trustees[2])
    live.client.wait_indexed(int(receipt["blockNumber"]))
    found = _tally(live, vote).json()
    assert (found["tally"], found["trustees"], found["recorded"]) == ([1, 2, 1], [1, 3], False)
    assert found["tally"] == vote.secret.tally(vote.id, [vote.trustees[0], vote.trustees[2]])
    # Recorded as the API found it; the contract checks it against the aggregate and the parts.
    receipt = vote.secret.finalize(vote.trustees[0].account, vote.id, found["tally"])
    live.client.wait_indexed(int(receipt["blockNumber"]))
    assert _tally(live, vote).json()["recorded"]
    final = live.client.get(f"/v1/secret-votes/{vote.id}")
    assert final["state"] == "Finalized"
    assert final["tally"] == [1, 2, 1]
    assert final["partialsFrom"] == [1, 3]
    assert [t["publishedPartial"] for t in final["trusteeSteps"]] == [True, False, True]
    # The relay's signed promises are checked by the audit against the cast events.
    exported = httpx.get(f"{live.url}/v1/relay/acks", params={"limit": 1000}, timeout=10).json()
    ids = {r["id"] for r in receipts}
    entries = [
        AckEntry(Acknowledgement.from_json(i["ack"]), i["id"], i["kind"], i["payload"])
        for i in exported["items"]
        if i["id"] in ids
    ]
    assert len(entries) == 4
    with RpcClient(live.node.url) as client:
        checked = check_acks(
            client,
            live.w3.eth.chain_id,
            _addresses(live.deployment.record),
            int(live.deployment.record["block"]),
            live.w3.eth.block_number,
            entries,
        )
    assert checked.findings == [] and {e["verdict"] for e in checked.entries} == {"landed"}


def test_each_trustees_steps_show_who_gave_no_key_and_who_left_a_complaint_unanswered(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    vote = _opened(live, accounts, "secret-api-trustees", residents=2, trustees=4)
    # Trustee 4 registers no key; trustee 3 deals trustee 1 a wrong share and then keeps silent.
    receipt = vote.secret.run_key_generation(
        vote.id, vote.trustees, vote.clock, silent=(4,), corrupt={3: (1,)}, mute=(3,)
    )
    live.client.wait_indexed(int(receipt["blockNumber"]))
    got = live.client.get(f"/v1/secret-votes/{vote.id}")
    steps = {t["trustee"]: t for t in got["trusteeSteps"]}
    read = {
        k: (t["keyRegistered"], t["dealt"], t["complaintsAgainst"], t["complaintsAnswered"],
            t["disqualified"])
        for k, t in steps.items()
    }  # fmt: skip
    assert read == {
        1: (True, True, 0, 0, None),
        2: (True, True, 0, 0, None),
        3: (True, True, 1, 0, "NoAnswer"),
        4: (False, False, 0, 0, "NoKey"),
    }
    assert got["qualified"] == [1, 2]


def test_the_apis_state_and_reason_names_are_the_contracts() -> None:
    assert get_args(SecretVoteStateName) == tuple(SecretVoteState.__members__)
    assert get_args(SecretDisqualifyReasonName) == tuple(SecretDisqualifyReason.__members__)
