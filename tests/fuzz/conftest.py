"""Fixtures of the contract fuzzing: how long to fuzz, and one community to fuzz in.

`make test` runs a short version; `make fuzz-long` (part of `make stress`) a long one, through
COMMONS_TEST_FUZZ_EXAMPLES (random histories) and COMMONS_TEST_FUZZ_STEPS (calls per history).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from web3 import Web3

from ledger.build import Artifact
from ledger.deploy import Deployment
from ledger.node import rpc
from ledger.signing.ballots import BallotDomain, make_ballot, sign_ballot
from ledger.tx import ErrorDecoder, send

ROLE = {name: Web3.keccak(text=name) for name in ("COMMITTEE", "REGISTRAR", "COORDINATOR")}
FLOOR, CEILING = -300, 400
THRESHOLD = 2
INCOME = 500_000
BUDGET = 300_000


@pytest.fixture(scope="session")
def fuzz_settings() -> settings:
    examples = int(os.environ.get("COMMONS_TEST_FUZZ_EXAMPLES", "5"))
    steps = int(os.environ.get("COMMONS_TEST_FUZZ_STEPS", "60"))
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=True,
    )


@dataclass(frozen=True)
class World:
    """A community: an admin, a registrar, a coordinator, four committee members (N = 2),
    eight residents on the roll, three newcomers who are not (yet), and an outsider who never
    is; time-bank limits set, the fund in CNY with some income, and one proposal that passed
    (budget BUDGET; eight of the residents voted yes) waiting for its grant. Every actor can
    pay gas."""

    id: int
    admin: LocalAccount
    registrar: LocalAccount
    coordinator: LocalAccount
    committee: tuple[LocalAccount, ...]
    residents: tuple[LocalAccount, ...]
    newcomers: tuple[LocalAccount, ...]
    outsider: LocalAccount
    relayer: LocalAccount
    decoder: ErrorDecoder
    passed: int
    passed_window: tuple[int, int]


@pytest.fixture(scope="module")
def world(w3: Web3, system: Deployment, artifacts: dict[str, Artifact]) -> World:
    people = [Account.create() for _ in range(20)]
    for person in people:
        rpc(w3, "anvil_setBalance", [person.address, hex(10**22)])
    admin, registrar, coordinator, outsider, relayer = people[:5]
    committee, residents, newcomers = tuple(people[5:9]), tuple(people[9:17]), tuple(people[17:20])
    decoder = ErrorDecoder(a.abi for a in artifacts.values())
    registry, fund, timebank = system.registry, system.fund, system.timebank

    def act(who: LocalAccount, call: object) -> None:
        send(w3, who, call, decoder=decoder)  # type: ignore[arg-type]

    receipt = send(w3, admin, registry.functions.createCommunity(b"\xf0" * 32), decoder=decoder)
    (created,) = registry.events.CommunityCreated().process_receipt(receipt)
    cid = int(created["args"]["communityId"])
    for member in committee:
        act(admin, registry.functions.grantRole(cid, ROLE["COMMITTEE"], member.address))
    act(admin, registry.functions.grantRole(cid, ROLE["REGISTRAR"], registrar.address))
    act(admin, registry.functions.grantRole(cid, ROLE["COORDINATOR"], coordinator.address))
    roll = [a.address for a in (*residents, *committee, coordinator)]
    act(registrar, registry.functions.updateRoll(cid, roll, [], True))
    act(admin, timebank.functions.setLimits(cid, FLOOR, CEILING))
    act(admin, fund.functions.setCurrency(cid, b"CNY"))
    act(admin, fund.functions.setApprovalThreshold(cid, THRESHOLD))
    act(committee[0], fund.functions.recordIncome(cid, 1, INCOME, b"CNY", b"\x01" * 32))
    council = system.council
    now = int(w3.eth.get_block("latest")["timestamp"])
    window = (now - 1, now + 600)
    params = (cid, b"\x0d" * 32, 0, 3, *window, 2_000, 5_000, BUDGET, b"CNY")
    act(committee[0], council.functions.openProposal(params))
    passed = int(council.functions.proposalCount().call())
    domain = BallotDomain(w3.eth.chain_id, Web3.to_checksum_address(council.address))
    ballots = [
        sign_ballot(r, make_ballot(passed, r.address, 0), domain).call_arg() for r in residents
    ]
    act(relayer, council.functions.castBallots(passed, ballots))
    rpc(w3, "evm_increaseTime", [700])
    rpc(w3, "evm_mine")
    act(relayer, council.functions.finalize(passed))
    return World(cid, admin, registrar, coordinator, committee, residents, newcomers, outsider,
                 relayer, decoder, passed, window)  # fmt: skip
