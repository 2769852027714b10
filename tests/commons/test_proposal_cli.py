"""`commons proposal open` and `publish` against `commons run --no-demo`: a committee member's
key opens a proposal through the relay with its text stored by the API; a dry run stores,
signs and sends nothing; any other key, and every impossible proposal, is refused in one line
with exit status 1 before a passphrase is asked; the result is published once voting closed."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from typer.testing import CliRunner
from web3 import Web3
from web3.contract import Contract

from commons.proposal_cli import proposal_app
from ledger import proposal_acts
from ledger.build import Artifact
from ledger.config import Settings
from ledger.keystore import Keystore
from ledger.node import make_web3, rpc
from ledger.offchain import text_hash
from ledger.protocol.generated import BallotKind, Constants, ProposalParams
from ledger.tx import send
from tests.e2e.test_admin_story import COMMONS, PASSPHRASE, TEST_N, Story, one_error_line
from tests.e2e.test_supervision import start, stop_by_pid

TEXT = "Repaint the bicycle shed by the north gate in the estate's green."


@dataclass
class Council:
    story: Story
    community: int
    text_file: Path

    def open(self, *args: str) -> str:
        """`commons proposal open` on the text file by the chair; what it printed."""
        return self.story.commons(
            "proposal", "open", "--community", str(self.community), "--text",
            str(self.text_file), "--key", "chair", *args, passphrase=PASSPHRASE,
        ).stdout  # fmt: skip

    w3: Web3
    council: Contract

    def stored(self, text: str) -> bool:
        url = f"{self.story.running.api_url}/v1/texts/{text_hash(text)}"
        return httpx.get(url, timeout=10).status_code == 200

    def proposals(self) -> int:
        count: int = self.council.functions.proposalCount().call()
        return count


@pytest.fixture(scope="module")
def council(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, artifacts: dict[str, Artifact]
) -> Iterator[Council]:
    """A community with a chair on its committee and a published roll of two residents."""
    tmp_path = tmp_path_factory.mktemp("proposal-cli")
    running = start(tmp_path, keystore_dir=str(tmp_path / "keys"), keystore_scrypt_n=str(TEST_N))
    running.env = {**running.env, "SOLCX_BINARY_PATH": str(settings.solc_binary_dir)}
    story = Story(running, tmp_path, network="")
    try:
        for name in ("admin", "chair", "neighbour"):
            story.commons("key", "new", name, passphrase=PASSPHRASE)
        assert "community 1 created" in story.act("create-community", "Elm Row").stdout
        story.act("grant", "COMMITTEE", "chair", "--community", "1")
        story.act("grant", "REGISTRAR", "admin", "--community", "1")
        residents = [Account.create().address for _ in range(2)]
        story.commons("roll", "add", *residents, "--community", "1", "--key", "admin",
                      passphrase=PASSPHRASE)  # fmt: skip
        text_file = tmp_path / "proposal.txt"
        text_file.write_text(TEXT, encoding="utf-8")
        w3 = make_web3(f"http://127.0.0.1:{running.settings.anvil_port}")
        record = json.loads((running.settings.deployments_dir / "31337.json").read_text())
        address = record["contracts"]["council"]["address"]
        contract = w3.eth.contract(
            address=address, abi=artifacts["Council"].abi, decode_tuples=True
        )
        yield Council(story, 1, text_file, w3, contract)
    finally:
        stop_by_pid(running)


@pytest.mark.parametrize("command", ["open", "publish", "link"])
def test_each_command_offers_a_dry_run_relay_or_direct_and_a_key(command: str) -> None:
    result = CliRunner().invoke(proposal_app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in ("--dry-run", "--via", "--key", "--passphrase-fd", "--api", "--rpc"):
        assert option in result.output, (command, option)


def test_a_dry_run_prints_the_proposal_and_stores_signs_and_sends_nothing(
    council: Council,
) -> None:
    before = council.proposals()
    # No passphrase is given: a dry run never asks for one.
    dry = council.story.commons(
        "proposal", "open", "--community", "1", "--text", str(council.text_file), "--key",
        "chair", "--kind", "multi", "--options", "4", "--period", "3d", "--quorum", "25",
        "--threshold", "40", "--budget", "1200.50", "--currency", "CNY", "--dry-run",
    ).stdout  # fmt: skip
    assert "open a 4-option proposal in community 1" in dry
    assert f"on the text with hash {text_hash(TEXT)}" in dry
    assert "quorum 25% of the roll, passing above 40%, asking 1200.50 CNY" in dry
    assert "function: openProposal((uint256,bytes32,uint8,uint8," in dry
    assert "must be signed by: a COMMITTEE of community 1" in dry
    assert "nothing was signed or sent" in dry and "not stored" in dry
    assert council.proposals() == before
    assert not council.stored(TEXT)


def test_the_text_may_come_from_stdin(council: Council) -> None:
    body = "从标准输入读取的提案全文, 修缮南门的自行车棚"
    dry = subprocess.run(
        [COMMONS, "proposal", "open", "--community", "1", "--text", "-", "--key", "chair",
         "--dry-run"],
        env=council.story.env, input=body, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert f"on the text with hash {text_hash(body)}" in dry.stdout
    assert f"text: {len(body)} characters, not stored" in dry.stdout


def test_a_key_off_the_committee_is_refused_in_one_line_before_anything_is_stored(
    council: Council,
) -> None:
    neighbour = council.story.address("neighbour")
    refused = council.story.commons(
        "proposal", "open", "--community", "1", "--text", str(council.text_file), "--key",
        "neighbour", check=False,
    )  # fmt: skip
    assert one_error_line(refused) == f"error: {neighbour} does not hold COMMITTEE in community 1"
    assert not council.stored(TEXT)


@pytest.mark.parametrize(
    ("args", "text", "said"),
    [
        ((), "   \n", "the proposal's text is empty"),
        (("--kind", "multi", "--options", "1"), TEXT, "has 2 to 8 options, not 1"),
        (("--kind", "multi", "--options", "9"), TEXT, "has 2 to 8 options, not 9"),
        (("--quorum", "101"), TEXT, "a quorum of 101% is more than the whole roll"),
        (("--period", "0"), TEXT, "a voting period of 0 would close the proposal"),
        (("--period", "0h"), TEXT, "a voting period of 0 would close the proposal"),
        (("--threshold", "40"), TEXT, "would let both yes and no pass"),
        (("--budget", "12.345", "--currency", "CNY"), TEXT, "is not an amount such as 1200.50"),
        (("--budget", "100"), TEXT, "a budget needs its currency"),
    ],
    ids=["empty text", "1 option", "9 options", "quorum 101", "period 0", "period 0h",
         "yes-no threshold 40", "budget of 3 decimals", "budget without currency"],
)  # fmt: skip
def test_an_impossible_proposal_is_refused_in_one_line_with_exit_1(
    council: Council, tmp_path: Path, args: tuple[str, ...], text: str, said: str
) -> None:
    source = tmp_path / "text.txt"
    source.write_text(text, encoding="utf-8")
    result = council.story.commons(
        "proposal", "open", "--community", "1", "--text", str(source), "--key", "chair", *args,
        check=False,
    )  # fmt: skip
    assert said in one_error_line(result)
    assert council.proposals() == 0


def test_the_chair_opens_a_proposal_through_the_relay_and_its_result_is_published_after_close(
    council: Council,
) -> None:
    out = council.open("--period", "1h", "--quorum", "50")
    assert "ProposalOpened in block" in out and "proposal 1 opened in community 1" in out
    assert council.stored(TEXT)
    assert council.w3.eth.get_balance(council.story.address("chair")) == 0  # the relayer paid
    proposal = council.council.functions.getProposal(1).call()
    assert proposal.textHash == bytes.fromhex(text_hash(TEXT)[2:])
    assert (proposal.quorumBps, proposal.thresholdBps) == (5000, 5000)
    assert proposal.closesAt - proposal.opensAt == 3600 + 1

    early = council.story.commons(
        "proposal", "publish", "1", "--key", "neighbour", passphrase=PASSPHRASE, check=False
    )
    assert "proposal 1 is still open until" in one_error_line(early)
    rpc(council.w3, "evm_increaseTime", [3601])
    rpc(council.w3, "evm_mine")
    published = council.story.commons(
        "proposal", "publish", "1", "--key", "neighbour", passphrase=PASSPHRASE
    ).stdout
    assert "proposal 1: NoQuorum (ballots per option: 0, 0, 0)" in published
    again = council.story.commons(
        "proposal", "publish", "1", "--key", "neighbour", passphrase=PASSPHRASE, check=False
    )
    assert "proposal 1's result is already published: NoQuorum" in one_error_line(again)


def test_a_proposal_opened_directly_is_paid_for_by_the_members_own_key(council: Council) -> None:
    chair = council.story.address("chair")
    rpc(council.w3, "anvil_setBalance", [chair, hex(10**18)])
    before = council.proposals()
    out = council.open("--kind", "multi", "--options", "4", "--threshold", "30", "--via", "direct")
    assert f"proposal {before + 1} opened in community 1" in out
    assert council.w3.eth.get_balance(chair) < 10**18
    proposal = council.council.functions.getProposal(before + 1).call()
    assert (proposal.optionCount, proposal.thresholdBps, proposal.proposer) == (4, 3000, chair)


def test_a_secret_vote_decides_the_proposal_the_chair_opens_and_links_from_it(
    council: Council,
) -> None:
    story, before = council.story, council.proposals()
    opened = story.commons(
        "secret", "open", "--community", "1", "--question", "Repaint the shed green?",
        "--option", "yes", "--option", "no", "--option", "abstain", "--trustee", "chair",
        "--threshold", "1", "--phase", "60", "--voting", "600", "--key", "chair",
        passphrase=PASSPHRASE,
    ).stdout  # fmt: skip
    assert "secret vote 1 opened" in opened
    out = story.commons(
        "proposal", "open", "--community", "1", "--secret-vote", "1", "--quorum", "20",
        "--key", "chair", passphrase=PASSPHRASE,
    ).stdout  # fmt: skip
    pid = before + 1
    assert f"proposal {pid} opened in community 1" in out
    assert "yes/no/abstain secret-ballot (secret vote 1)" in out
    assert f"proposal {pid} is decided by secret vote 1" in out
    api = story.running.api_url
    proposal = httpx.get(f"{api}/v1/proposals/{pid}", timeout=10).json()
    vote = httpx.get(f"{api}/v1/secret-votes/1", timeout=10).json()
    assert (proposal["kind"], proposal["secretVoteId"]) == ("SecretYesNoAbstain", 1)
    assert proposal["textHash"] == vote["questionHash"] and proposal["textMatches"]
    assert (proposal["opensAt"], proposal["closesAt"]) == (vote["opensAt"], vote["closesAt"])
    assert vote["proposalId"] == pid
    plain = httpx.get(f"{api}/v1/proposals/{before}", timeout=10).json()
    assert plain["secretVoteId"] is None

    both = story.commons(
        "proposal", "open", "--community", "1", "--secret-vote", "1", "--text",
        str(council.text_file), "--key", "chair", check=False,
    )  # fmt: skip
    assert "give the proposal's --text, or the --secret-vote" in one_error_line(both)
    four = story.commons(
        "proposal", "open", "--community", "1", "--secret-vote", "1", "--kind", "multi",
        "--options", "4", "--key", "chair", check=False,
    )  # fmt: skip
    assert "secret vote 1 has 3 options; the proposal 4" in one_error_line(four)


def _secret_vote(story: Story) -> dict[str, Any]:
    """A new yes/no/abstain secret vote of community 1 (ballots open 240 s on), as the API has it."""
    out = story.commons(
        "secret", "open", "--community", "1", "--question", "Close the north gate at night?",
        "--option", "yes", "--option", "no", "--option", "abstain", "--trustee", "chair",
        "--threshold", "1", "--phase", "60", "--voting", "600", "--key", "chair",
        passphrase=PASSPHRASE,
    ).stdout  # fmt: skip
    vote_id = int(out.split(" opened; ballots open at")[0].rsplit("secret vote ", 1)[1])
    vote: dict[str, Any] = httpx.get(
        f"{story.running.api_url}/v1/secret-votes/{vote_id}", timeout=10
    ).json()
    return vote


def _unlinked_secret_proposal(council: Council, vote: dict[str, Any]) -> int:
    """A secret-ballot proposal on `vote`'s terms, opened by the chair's own transaction and
    not linked: what `open --secret-vote` leaves when its link step fails."""
    chair = Keystore(council.text_file.parent / "keys", TEST_N).unlock("chair", PASSPHRASE)
    rpc(council.w3, "anvil_setBalance", [chair.address, hex(10**18)])
    params = ProposalParams(
        communityId=1,
        textHash=bytes.fromhex(vote["questionHash"][2:]),
        kind=BallotKind.SecretYesNoAbstain,
        optionCount=3,
        opensAt=vote["opensAt"],
        closesAt=vote["closesAt"],
        quorumBps=2000,
        thresholdBps=5000,
        budgetAmount=0,
        budgetCurrency=b"\x00\x00\x00",
    )
    send(council.w3, chair, council.council.functions.openProposal(tuple(params)))
    return council.proposals()


def _refused(story: Story, *args: str) -> str:
    """The one line a chair's command refused with (exit status 1)."""
    result = story.commons(*args, "--key", "chair", check=False)
    assert result.returncode == 1, result.stdout
    return one_error_line(result)


def test_a_secret_proposal_left_unlinked_is_linked_by_link_and_every_impossible_link_refused(
    council: Council,
) -> None:
    story = council.story
    vote = _secret_vote(story)
    vid = str(vote["voteId"])
    pid = _unlinked_secret_proposal(council, vote)
    assert council.council.functions.secretVoteOf(pid).call() == 0
    refused = functools.partial(_refused, story)

    out = story.commons(
        "proposal", "link", str(pid), "--secret-vote", vid, "--key", "chair",
        passphrase=PASSPHRASE,
    ).stdout  # fmt: skip
    assert f"proposal {pid} is decided by secret vote {vid}" in out
    assert council.council.functions.secretVoteOf(pid).call() == vote["voteId"]

    assert f"already decided by secret vote {vid}" in refused(
        "proposal", "link", str(pid), "--secret-vote", vid
    )
    council.open()
    plain = str(council.proposals())
    assert "decided by open ballots" in refused("proposal", "link", plain, "--secret-vote", vid)
    assert "there is no proposal 999" in refused("proposal", "link", "999", "--secret-vote", vid)
    # Opening another proposal on a vote that already decides one: refused before sending.
    before = council.proposals()
    assert f"secret vote {vid} already decides proposal {pid}" in refused(
        "proposal", "open", "--community", "1", "--secret-vote", vid
    )
    assert council.proposals() == before


def test_a_secret_vote_opening_too_soon_to_link_is_refused_and_an_opened_proposal_cannot_be_linked(
    council: Council,
) -> None:
    story = council.story
    vote = _secret_vote(story)
    vid = str(vote["voteId"])
    pid = _unlinked_secret_proposal(council, vote)
    rpc(council.w3, "evm_mine", [vote["opensAt"] - 30])
    before = council.proposals()
    said = _refused(story, "proposal", "open", "--community", "1", "--secret-vote", vid)
    assert f"secret vote {vid} opens in 30 s" in said and "at least 60 s" in said, said
    assert council.proposals() == before
    rpc(council.w3, "evm_mine", [vote["opensAt"]])
    late = _refused(story, "proposal", "link", str(pid), "--secret-vote", vid)
    assert "linked only before its proposal opens" in late
    assert council.council.functions.secretVoteOf(pid).call() == 0


# Last in the module: it moves the chain's clock a month on.
def test_a_secret_proposal_whose_vote_never_has_a_tally_is_published_as_not_decided_after_the_grace(
    council: Council,
) -> None:
    story, w3 = council.story, council.w3
    vote = _secret_vote(story)
    vid = vote["voteId"]
    out = story.commons(
        "proposal", "open", "--community", "1", "--secret-vote", str(vid), "--quorum", "20",
        "--key", "chair", passphrase=PASSPHRASE,
    ).stdout  # fmt: skip
    pid = council.proposals()
    assert f"proposal {pid} is decided by secret vote {vid}" in out
    # No trustee ever registers a key: the vote never has one, nor a tally.
    from_ = vote["challengesUntil"] + Constants.SECRET_TALLY_GRACE
    rpc(w3, "evm_mine", [from_ - 60])
    early = _refused(story, "proposal", "publish", str(pid))
    assert f"secret vote {vid}, which has no tally yet (KeyPending)" in early, early
    assert "anyone may publish the proposal as not decided" in early
    rpc(w3, "evm_mine", [from_])
    published = story.commons(
        "proposal", "publish", str(pid), "--key", "neighbour", passphrase=PASSPHRASE
    ).stdout
    assert f"proposal {pid}: TallyNeverPublished (its secret vote's trustees" in published
    api = story.running.api_url
    shown = httpx.get(f"{api}/v1/proposals/{pid}", timeout=10).json()
    assert (shown["state"], shown["outcome"], shown["tally"]) == (
        "Finalized",
        "TallyNeverPublished",
        [0, 0, 0],
    )
    again = story.commons("proposal", "publish", str(pid), "--key", "neighbour", check=False)
    assert "already published: TallyNeverPublished" in one_error_line(again)


def test_a_proposal_opened_whose_link_failed_names_the_command_that_links_it(
    council: Council, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = council.story
    vote = _secret_vote(story)
    vid = vote["voteId"]
    # The open lands and the link step is refused (it names a vote that does not exist), as when
    # the relay or the node goes away between the two.
    link = proposal_acts.link_secret_vote
    monkeypatch.setattr(
        proposal_acts,
        "link_secret_vote",
        lambda community, proposal, _vote: link(community, proposal, 999),
    )
    read_end, write_end = os.pipe()
    os.write(write_end, PASSPHRASE.encode() + b"\n")
    os.close(write_end)
    try:
        args = ["open", "--community", "1", "--secret-vote", str(vid), "--key", "chair"]
        result = CliRunner().invoke(
            proposal_app, [*args, "--passphrase-fd", str(read_end)], env=story.env
        )
    finally:
        with contextlib.suppress(OSError):
            os.close(read_end)
    pid = council.proposals()
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert f"proposal {pid} opened, but linking secret vote {vid} failed" in said, said
    hint = f"commons proposal link {pid} --secret-vote {vid} --key chair"
    assert hint in said, said
    assert council.council.functions.secretVoteOf(pid).call() == 0

    monkeypatch.undo()
    out = story.commons(*hint.split()[1:], passphrase=PASSPHRASE).stdout
    assert f"proposal {pid} is decided by secret vote {vid}" in out
    assert council.council.functions.secretVoteOf(pid).call() == vid
