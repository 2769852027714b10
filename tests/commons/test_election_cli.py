"""`commons election open` against `commons run --no-demo`: a committee member's key opens an
election through the relay with its candidates' statements stored by the API; a dry run stores,
signs and sends nothing; any other key, and every impossible election, is refused in one line
with exit status 1 before a passphrase is asked. `commons box declare`: the chair declares a
paper box of an election that opens later, by a direct transaction only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from typer.testing import CliRunner
from web3 import Web3
from web3.contract import Contract

from commons.election_cli import election_app
from ledger.build import Artifact
from ledger.config import Settings
from ledger.node import make_web3, rpc
from ledger.offchain import text_hash
from ledger.protocol.generated import ElectionKind
from tests.e2e.test_admin_story import PASSPHRASE, TEST_N, Story, one_error_line
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
    residents: list[str]

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
        residents = [Account.create().address for _ in range(2)]
        story.commons("roll", "add", *residents, "--community", "1", "--key", "admin",
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
    voters.write_text("\n".join(building.residents[:1]) + "\n")
    box = ("box", "declare", "--election", str(eid), "--label", "A", "--voters", str(voters))
    relayed = story.commons(*box, "--key", "chair", check=False)
    assert (
        one_error_line(relayed)
        == "error: a box is declared by a direct transaction: add --via direct"
    )
    chair = story.address("chair")
    rpc(building.w3, "anvil_setBalance", [chair, hex(10**18)])
    out = story.commons(*box, "--key", "chair", "--via", "direct", passphrase=PASSPHRASE).stdout
    assert "PaperBoxDeclared in block" in out and f"box 1 declared for election {eid}" in out
    assert building.stored("A")
