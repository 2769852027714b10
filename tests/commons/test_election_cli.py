"""`commons election open` and `commons election count` against `commons run --no-demo`: a
committee member's key opens an election through the relay with its candidates' statements
stored by the API; a dry run stores, signs and sends nothing; any other key, and every impossible
election, is refused in one line with exit status 1 before a passphrase is asked. Once it closes,
any key without gas counts it through the relay step by step; counting again only reports the
winners; an open or unknown election is refused in one line. `commons box declare`: the chair
declares a paper box of an election that opens later, through the relay or directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner
from web3 import Web3
from web3.contract import Contract

from commons.election_cli import election_app
from ledger.build import Artifact
from ledger.config import Settings
from ledger.node import make_web3, rpc
from ledger.offchain import text_hash
from ledger.protocol.generated import ElectionKind, ElectionState
from ledger.signing.election_ballots import (
    ElectionBallot,
    ElectionDomain,
    encode_ranking,
    sign_election_ballot,
)
from tests.e2e.test_admin_story import PASSPHRASE, TEST_N, Story, one_error_line, wait_counted
from tests.e2e.test_supervision import start, stop_by_pid

STATEMENTS = [
    "Chen Jing\nRetired nurse. I will get the lift repaired.",
    "周磊\n在楼下开小卖部。我会每月开一次楼栋会。",
    "Huang Min\nTeacher. A homework corner for the building's children.",
]


@dataclass
class Building:
    story: Story
    files: list[Path]
    w3: Web3
    elections: Contract
    residents: list[LocalAccount]

    def candidates(self, files: list[Path] | None = None) -> list[str]:
        return [arg for f in (files or self.files) for arg in ("--candidate", str(f))]

    def stored(self, text: str) -> bool:
        url = f"{self.story.running.api_url}/v1/texts/{text_hash(text)}"
        return httpx.get(url, timeout=10).status_code == 200

    def count(self) -> int:
        return int(self.elections.functions.electionCount().call())


@pytest.fixture(scope="module")
def building(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, artifacts: dict[str, Artifact]
) -> Iterator[Building]:
    """A community with a chair on its committee and a published roll of two residents."""
    tmp_path = tmp_path_factory.mktemp("election-cli")
    running = start(tmp_path, keystore_dir=str(tmp_path / "keys"), keystore_scrypt_n=str(TEST_N))
    running.env = {**running.env, "SOLCX_BINARY_PATH": str(settings.solc_binary_dir)}
    story = Story(running, tmp_path, network="")
    try:
        for name in ("admin", "chair", "neighbour"):
            story.commons("key", "new", name, passphrase=PASSPHRASE)
        assert "community 1 created" in story.act("create-community", "Building 4").stdout
        story.act("grant", "COMMITTEE", "chair", "--community", "1")
        story.act("grant", "REGISTRAR", "admin", "--community", "1")
        residents = [Account.create() for _ in range(2)]
        story.commons("roll", "add", *(r.address for r in residents), "--community", "1", "--key", "admin",
                      passphrase=PASSPHRASE)  # fmt: skip
        files = []
        for i, text in enumerate(STATEMENTS):
            files.append(tmp_path / f"candidate-{i}.txt")
            files[-1].write_text(text, encoding="utf-8")
        w3 = make_web3(f"http://127.0.0.1:{running.settings.anvil_port}")
        record = json.loads((running.settings.deployments_dir / "31337.json").read_text())
        address = record["contracts"]["elections"]["address"]
        contract = w3.eth.contract(
            address=address, abi=artifacts["Elections"].abi, decode_tuples=True
        )
        yield Building(story, files, w3, contract, residents)
    finally:
        stop_by_pid(running)


def test_open_offers_a_dry_run_relay_or_direct_and_a_key() -> None:
    result = CliRunner().invoke(election_app, ["open", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in ("--dry-run", "--via", "--key", "--passphrase-fd", "--api", "--rpc"):
        assert option in result.output, option


def test_count_takes_an_election_a_step_size_and_any_key_relay_or_direct() -> None:
    result = CliRunner().invoke(election_app, ["count", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in ("ID", "--ballots-per-step", "--dry-run", "--via", "--key", "--api", "--rpc"):
        assert option in result.output, option


def test_a_dry_run_prints_the_election_and_stores_signs_and_sends_nothing(
    building: Building,
) -> None:
    # No passphrase is given: a dry run never asks for one.
    dry = building.story.commons(
        "election", "open", "--community", "1", *building.candidates(), "--key", "chair",
        "--kind", "approval", "--max-choices", "2", "--period", "3d", "--dry-run",
    ).stdout  # fmt: skip
    assert "open an approval election for 1 seat in community 1 among 3 candidates" in dry
    assert "up to 2 approvals a ballot" in dry
    assert "function: openElection((uint256,bytes32[],uint8,uint8,uint8,uint64,uint64))" in dry
    assert "must be signed by: a COMMITTEE of community 1" in dry
    assert "nothing was signed or sent" in dry and "statements: 3, not stored" in dry
    assert building.count() == 0
    assert not any(building.stored(s) for s in STATEMENTS)


def test_a_key_off_the_committee_is_refused_in_one_line_before_anything_is_stored(
    building: Building,
) -> None:
    neighbour = building.story.address("neighbour")
    refused = building.story.commons(
        "election", "open", "--community", "1", *building.candidates(), "--key", "neighbour",
        check=False,
    )  # fmt: skip
    assert one_error_line(refused) == f"error: {neighbour} does not hold COMMITTEE in community 1"
    assert not any(building.stored(s) for s in STATEMENTS)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--seats", "3"), "3 candidates can fill 1 to 2 seats, not 3"),
        (("--max-choices", "4"), "a ballot may take 1 to 3 choices, not 4"),
        (("--period", "0"), "a voting period of 0 would close"),
        (("--period", "401d"), "is longer than the roll snapshot is kept"),
    ],
    ids=["seats", "max choices", "period 0", "period past the snapshot"],
)
def test_an_impossible_election_is_refused_in_one_line_with_exit_1(
    building: Building, args: tuple[str, ...], said: str
) -> None:
    result = building.story.commons(
        "election", "open", "--community", "1", *building.candidates(), "--key", "chair", *args,
        check=False,
    )  # fmt: skip
    assert said in one_error_line(result)
    assert building.count() == 0


def test_one_candidate_or_two_alike_are_refused(building: Building, tmp_path: Path) -> None:
    alone = building.story.commons(
        "election", "open", "--community", "1", *building.candidates(building.files[:1]),
        "--key", "chair", check=False,
    )  # fmt: skip
    assert "an election needs at least 2 candidates, not 1" in one_error_line(alone)
    twins = building.candidates([building.files[0], building.files[0]])
    alike = building.story.commons(
        "election", "open", "--community", "1", *twins, "--key", "chair", check=False
    )
    assert "two candidates have the same statement" in one_error_line(alike)


def test_the_chair_opens_a_ranked_election_through_the_relay_with_its_statements_stored(
    building: Building,
) -> None:
    out = building.story.commons(
        "election", "open", "--community", "1", *building.candidates(), "--key", "chair",
        "--period", "1h", passphrase=PASSPHRASE,
    ).stdout  # fmt: skip
    assert "ElectionOpened in block" in out and "election 1 opened in community 1" in out
    assert all(building.stored(s) for s in STATEMENTS)
    assert building.w3.eth.get_balance(building.story.address("chair")) == 0  # the relayer paid
    view = building.elections.functions.getElection(1).call()
    assert [bytes(c) for c in view.candidates] == [
        bytes.fromhex(text_hash(s)[2:]) for s in STATEMENTS
    ]
    assert (view.kind, view.seats, view.maxChoices) == (ElectionKind.Ranked, 1, 3)
    assert view.closesAt - view.opensAt == 3600 + 1
    served = httpx.get(f"{building.story.running.api_url}/v1/elections/1", timeout=10).json()
    assert served["statements"] == STATEMENTS


@pytest.fixture(scope="module")
def closed(building: Building) -> int:
    """Election 2 (ranked, 3 candidates), ranked 2,0,1 and 1,2,0 by the two residents, closed:
    three rounds (candidate 1, then 3, eliminated) before candidate 2 wins alone."""
    out = building.story.commons(
        "election", "open", "--community", "1", *building.candidates(), "--key", "chair",
        "--period", "1h", passphrase=PASSPHRASE,
    ).stdout  # fmt: skip
    election = int(out.rsplit("election ", 1)[1].split()[0])
    api = building.story.running.api_url
    domain = ElectionDomain(building.w3.eth.chain_id, building.elections.address)
    for voter, ranking in zip(building.residents, ([2, 0, 1], [1, 2, 0]), strict=True):
        ballot = ElectionBallot(election, voter.address, encode_ranking(ranking))
        signed = sign_election_ballot(voter, ballot, domain)
        body = {"electionId": election, "voter": voter.address, "choices": ballot.choices,
                "signature": "0x" + signed.signature.hex()}  # fmt: skip
        receipt = httpx.post(f"{api}/v1/election-ballots", json=body, timeout=10).json()
        assert wait_counted(api, receipt["id"])["status"] == "counted", receipt
    return election


def close(building: Building, election: int) -> None:
    closes = building.elections.functions.getElection(election).call().closesAt
    if building.w3.eth.get_block("latest")["timestamp"] <= closes:
        rpc(building.w3, "evm_mine", [closes + 1])


def test_counting_an_open_or_unknown_election_is_refused_in_one_line(
    building: Building, closed: int
) -> None:
    early = building.story.commons("election", "count", str(closed), "--key", "neighbour",
                                   check=False)  # fmt: skip
    assert one_error_line(early).startswith(f"error: election {closed} is not closed yet: ")
    unknown = building.story.commons("election", "count", "99", "--key", "neighbour", check=False)
    assert one_error_line(unknown) == f"error: there is no election 99 (elections: 1 to {closed})"


def test_a_dry_run_of_the_count_prints_its_first_step_and_sends_nothing(
    building: Building, closed: int
) -> None:
    close(building, closed)
    # No passphrase is given: a dry run never asks for one.
    dry = building.story.commons(
        "election", "count", str(closed), "--key", "neighbour", "--dry-run"
    ).stdout
    assert f"count election {closed}: read up to 5,000 stored ballots" in dry
    assert "function: countStep(uint256,uint256)" in dry and "must be signed by: anyone" in dry
    assert "nothing was signed or sent" in dry
    assert building.elections.functions.state(closed).call() == ElectionState.Closed


def test_anyone_without_gas_counts_a_closed_election_step_by_step_through_the_relay(
    building: Building, closed: int
) -> None:
    close(building, closed)
    out = building.story.commons(
        "election", "count", str(closed), "--key", "neighbour", "--ballots-per-step", "2",
        passphrase=PASSPHRASE,
    ).stdout  # fmt: skip
    assert f"election {closed}: 2 ballots, 1 seat(s) to fill" in out
    # Each step reads both ballots, so it closes one round: three rounds, three steps.
    steps = [line for line in out.splitlines() if line.startswith("step ")]
    assert len(steps) == 3 and all("gas used " in s for s in steps), out
    assert "step 1: seat 1 round 2 in progress" in out and steps[-1].startswith("step 3: done")
    assert "seat 1 round 1 counted: votes 0, 1, 1; 0 exhausted; candidate 1 eliminated" in out
    assert "seat 1 round 2 counted: votes 0, 1, 1; 0 exhausted; candidate 3 eliminated" in out
    assert "seat 1 round 3 counted: votes 0, 2, 0; 0 exhausted; no one eliminated" in out
    assert "seat 1 filled: candidate 2, 2 votes" in out
    assert out.strip().endswith("counted: winners candidate 2")
    assert building.w3.eth.get_balance(building.story.address("neighbour")) == 0
    view = building.elections.functions.getElection(closed).call()
    assert (view.state, list(view.winners)) == (ElectionState.Counted, [1])


def test_counting_again_only_reports_the_winners(building: Building, closed: int) -> None:
    # No passphrase: nothing is signed.
    again = building.story.commons("election", "count", str(closed), "--key", "neighbour")
    assert again.stdout.strip() == "already counted: winners candidate 2"


def test_the_chair_declares_a_paper_box_of_an_election_that_opens_later(
    building: Building, tmp_path: Path
) -> None:
    story = building.story
    story.commons(
        "election", "open", "--community", "1", *building.candidates(), "--key", "chair",
        "--period", "1h", "--opens-in", "1h", passphrase=PASSPHRASE,
    )  # fmt: skip
    eid = building.count()
    view = building.elections.functions.getElection(eid).call()
    assert view.closesAt - view.opensAt == 3600 and view.state == 0  # pending
    voters = tmp_path / "box-a.txt"
    voters.write_text(building.residents[0].address + "\n")
    box = ("box", "declare", "--election", str(eid), "--label", "A", "--voters", str(voters))
    # Gasless through the relay, as every committee act...
    out = story.commons(*box, "--key", "chair", passphrase=PASSPHRASE).stdout
    assert "PaperBoxDeclared in block" in out and f"box 1 declared for election {eid}" in out
    # ...or paid by the member's own key.
    voters.write_text(building.residents[1].address + "\n")
    chair = story.address("chair")
    rpc(building.w3, "anvil_setBalance", [chair, hex(10**18)])
    direct = ("--key", "chair", "--via", "direct")
    out = story.commons(*box[:-3], "B", *box[-2:], *direct, passphrase=PASSPHRASE).stdout
    assert f"box 2 declared for election {eid}" in out
    assert building.stored("A")
