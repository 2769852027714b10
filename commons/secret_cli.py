"""`commons secret`: a secret vote's acts from the command line. The committee opens a vote;
each trustee registers a communication key, deals, checks the shares dealt to it (complaining
against a bad one), answers complaints against itself, and after the close publishes its
proven partial decryption; anyone closes key generation, challenges an invalid ballot,
finalizes with the tally found off-chain, and shows a vote with each trustee's steps.

A trustee's secrets (communication key, polynomial, received shares) live in its trustee file
(--file), encrypted with a passphrase of its own (asked at the terminal or read from
--file-passphrase-fd) and never printed. Every act is checked and simulated before it is signed
with --key; a refusal is one line on stderr and exit status 1.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from web3.exceptions import ContractCustomError, ContractLogicError

from commons.acts import Community, Rpc, Signing, signed_act
from commons.errors import one_line_errors
from ledger import admin
from ledger.admin import AdminCall, RelayApi, Signer
from ledger.config import Settings
from ledger.deploy import load_deployment
from ledger.node import connect
from ledger.offchain import text_hash
from ledger.passphrase import read_passphrase
from ledger.proposal_acts import TEXTS_PATH
from ledger.protocol.generated import Functions
from ledger.secret import progress, trustee_file
from ledger.secret import trustee as steps
from ledger.secret.trustee import VoteOnChain

DAY = 86_400

secret_app = typer.Typer(
    name="secret",
    help="Secret votes: open one (committee); a trustee's steps of the key generation "
    "(register, deal, check-deals, answer), close-keys, decrypt after the close, finalize, and "
    "challenge an invalid ballot; show a vote and each trustee's steps. A trustee's secrets "
    "stay in its encrypted --file.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

VoteId = Annotated[int, typer.Argument(metavar="VOTE", help="the secret vote's id")]
TrusteeFile = Annotated[
    Path,
    typer.Option(
        "--file",
        metavar="PATH",
        help="the trustee's file for this vote (encrypted; made by `register`)",
    ),
]
FilePassphraseFd = Annotated[
    int | None,
    typer.Option(
        "--file-passphrase-fd",
        metavar="N",
        help="read the trustee file's passphrase from file descriptor N instead of the terminal",
    ),
]


def _vote(signing: Signing, vote_id: int) -> tuple[admin.AdminChain, VoteOnChain]:
    chain = signing.chain()
    try:
        return chain, VoteOnChain.read(chain.w3, chain.deployment, vote_id)
    except (ContractCustomError, ContractLogicError) as exc:
        raise steps.TrusteeRefused(f"no secret vote {vote_id}") from exc


def _signer(signing: Signing) -> str:
    return signing.keystore.entry(signing.key).address


def _file_passphrase(path: Path, fd: int | None, *, new: bool = False) -> str:
    return read_passphrase(f"passphrase of trustee file {path}: ", fd, confirm=new)


def _run(signing: Signing, chain: admin.AdminChain, calls: list[AdminCall]) -> None:
    for call in calls:
        signing.act(call, chain=chain)


@secret_app.command("open")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def open_vote(
    signing: Signing,
    community: Community,
    question: Annotated[str, typer.Option("--question", help="the question put to the vote")],
    option: Annotated[
        list[str], typer.Option("--option", help="an answer (2 to 8 of them, in order)")
    ],
    trustee: Annotated[
        list[str], typer.Option("--trustee", help="a trustee's address or key name (1 to 7)")
    ],
    threshold: Annotated[int, typer.Option("--threshold", help="trustees it takes to decrypt")],
    phase: Annotated[
        int, typer.Option("--phase", help="seconds for each key-generation step (4 of them)")
    ] = DAY,
    voting: Annotated[int, typer.Option("--voting", help="seconds ballots are open")] = 7 * DAY,
    challenges: Annotated[
        int, typer.Option("--challenges", help="seconds for challenges after the close")
    ] = DAY,
) -> None:
    """Open a secret vote of COMMUNITY (committee only); prints its id. Its schedule starts
    now: keys, deals, complaints, answers each take --phase; ballots then stay open --voting;
    challenges follow for --challenges. The question and options are stored through the API
    (/v1/texts) before the vote is signed; the vote commits to their keccak256."""
    chain = signing.chain()
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    keys_by = now + phase
    opens_at = keys_by + 3 * phase
    params = (
        community,
        steps.question_hash(question, option),
        len(option),
        [signing.address_of(t) for t in trustee],
        threshold,
        keys_by,
        keys_by + phase,
        keys_by + 2 * phase,
        opens_at,
        opens_at,
        opens_at + voting,
        opens_at + voting + challenges,
    )
    call = AdminCall(
        "secret",
        Functions.openSecretVote,
        (params,),
        f"open a secret vote of community {community}: {question}",
        Signer.ROLE,
        "SecretVoteOpened",
        community,
        admin.ROLES["COMMITTEE"],
    )
    text = steps.question_text(question, option)
    done = signing.act(call, chain=chain, prepare=lambda: _store_question(signing, text))
    if done is not None:
        typer.echo(f"secret vote {done.event['voteId']} opened; ballots open at {opens_at}")


def _store_question(signing: Signing, text: str) -> None:
    """The question and options stored through the API before the vote is signed, so that the
    page can show them; the hash the API reports must be the one signed."""
    api = RelayApi(signing.api)
    stored = api.post(TEXTS_PATH, {"text": text})
    if str(stored.get("hash", "")).lower() != text_hash(text):
        raise admin.AdminRefused(
            f"the API at {signing.api} stored the question under {stored.get('hash')}, "
            "not its keccak256; nothing was signed"
        )


@secret_app.command("register")
@one_line_errors(interrupted="interrupted; the trustee file may exist without its key on-chain")
@signed_act
def register(
    signing: Signing, vote_id: VoteId, file: TrusteeFile, file_fd: FilePassphraseFd = None
) -> None:
    """Make this trustee's communication key, keep its secret in a new --file, register it."""
    chain, vote = _vote(signing, vote_id)
    state, call = steps.new_trustee(vote, _signer(signing))
    if file.exists():
        raise trustee_file.TrusteeFileError(f"{file} exists: it may hold a trustee's secrets")

    def keep() -> None:
        passphrase = _file_passphrase(file, file_fd, new=True)
        trustee_file.save(file, state, passphrase, new=True)
        typer.echo(f"trustee {state.number}'s secrets kept in {file}")

    signing.act(call, chain=chain, prepare=keep)


def _with_state(
    file: Path, fd: int | None, vote: VoteOnChain, signer: str
) -> tuple[trustee_file.TrusteeState, str]:
    passphrase = _file_passphrase(file, fd)
    state = trustee_file.load(file, passphrase)
    if state.vote_id != vote.vote_id or state.number != vote.number_of(signer):
        raise trustee_file.TrusteeFileError(
            f"{file} is trustee {state.number}'s of vote {state.vote_id}, not this one's"
        )
    return state, passphrase


@secret_app.command("deal")
@one_line_errors(interrupted="interrupted; nothing more was sent")
@signed_act
def deal(
    signing: Signing, vote_id: VoteId, file: TrusteeFile, file_fd: FilePassphraseFd = None
) -> None:
    """Deal: commit to a fresh polynomial (kept in --file) and encrypt a share to each trustee."""
    chain, vote = _vote(signing, vote_id)
    state, passphrase = _with_state(file, file_fd, vote, _signer(signing))
    call = steps.deal(vote, state)
    signing.act(call, chain=chain, prepare=lambda: trustee_file.save(file, state, passphrase))


@secret_app.command("check-deals")
@one_line_errors(interrupted="interrupted; nothing more was sent")
@signed_act
def check_deals(
    signing: Signing, vote_id: VoteId, file: TrusteeFile, file_fd: FilePassphraseFd = None
) -> None:
    """Decrypt and check the shares dealt to this trustee; keep the good ones, complain
    against each dealer whose share does not match its commitments."""
    chain, vote = _vote(signing, vote_id)
    state, passphrase = _with_state(file, file_fd, vote, _signer(signing))
    good, complaints = steps.check_deals(vote, state)
    trustee_file.save(file, state, passphrase)
    typer.echo(f"shares checked and kept from dealers {good}")
    if not complaints:
        typer.echo("no complaint")
    _run(signing, chain, complaints)


@secret_app.command("answer")
@one_line_errors(interrupted="interrupted; nothing more was sent")
@signed_act
def answer(
    signing: Signing, vote_id: VoteId, file: TrusteeFile, file_fd: FilePassphraseFd = None
) -> None:
    """Answer each complaint against this trustee with the accuser's share in clear."""
    chain, vote = _vote(signing, vote_id)
    state, _ = _with_state(file, file_fd, vote, _signer(signing))
    calls = steps.answers(vote, state)
    if not calls:
        typer.echo("no complaint to answer")
    _run(signing, chain, calls)


@secret_app.command("close-keys")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def close_keys(signing: Signing, vote_id: VoteId) -> None:
    """Close key generation once the answers are closed (anyone): fixes the qualified
    trustees and the election key, or fails the vote."""
    chain, vote = _vote(signing, vote_id)
    done = signing.act(steps.close_keys(vote), chain=chain)
    if done is not None:
        qualified = VoteOnChain.read(chain.w3, chain.deployment, vote_id).qualified()
        typer.echo(f"election key made; qualified trustees {qualified}")


@secret_app.command("decrypt")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def decrypt(
    signing: Signing, vote_id: VoteId, file: TrusteeFile, file_fd: FilePassphraseFd = None
) -> None:
    """After the challenges, publish this trustee's proven partial decryption of each option."""
    chain, vote = _vote(signing, vote_id)
    state, passphrase = _with_state(file, file_fd, vote, _signer(signing))
    call = steps.partial_decryption(vote, state)
    signing.act(call, chain=chain, prepare=lambda: trustee_file.save(file, state, passphrase))


@secret_app.command("finalize")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def finalize(signing: Signing, vote_id: VoteId) -> None:
    """Find the tally from t published partial decryptions (a small discrete log per option)
    and record it; the contract checks it against the aggregate (anyone)."""
    chain, vote = _vote(signing, vote_id)
    counts = steps.tally(vote)
    typer.echo(f"tally found: {counts}")
    signing.act(steps.finalize(vote, counts), chain=chain)


@secret_app.command("challenge")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def challenge(
    signing: Signing,
    vote_id: VoteId,
    voter: Annotated[str, typer.Argument(metavar="VOTER", help="whose counted ballot")],
) -> None:
    """Challenge VOTER's counted ballot in the window after the close: the contract checks its
    proofs and voids it if they fail (a valid ballot's challenge is refused before signing)."""
    chain, vote = _vote(signing, vote_id)
    signing.act(steps.challenge(vote, signing.address_of(voter)), chain=chain)


def _utc(unix: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))


@secret_app.command("show")
@one_line_errors(interrupted="interrupted; nothing was sent")
def show(vote_id: VoteId, rpc: Rpc = None) -> None:
    """Print a secret vote's state, its windows and each trustee's steps as the chain's events
    record them (whose part is still to come). Read from the chain; no key needed."""
    settings = Settings(rpc_url=rpc) if rpc else Settings()
    w3 = connect(settings)
    deployment = load_deployment(w3, settings)
    try:
        vote = VoteOnChain.read(w3, deployment, vote_id)
    except (ContractCustomError, ContractLogicError) as exc:
        raise steps.TrusteeRefused(f"no secret vote {vote_id}") from exc
    v = vote.view
    typer.echo(f"secret vote {vote_id} of community {v.communityId}: {vote.state.name}")
    windows = (
        ("keys by", v.keysBy), ("deals by", v.dealsBy), ("complaints by", v.complaintsBy),
        ("answers by", v.answersBy), ("opens", v.opensAt), ("closes", v.closesAt),
        ("challenges until", v.challengesUntil),
    )  # fmt: skip
    for what, unix in windows:
        typer.echo(f"  {what}: {_utc(unix)}")
    typer.echo(f"{v.threshold} of {len(v.trustees)} trustees decrypt together")
    events = {name: vote.events(name) for name in progress.EVENTS}
    for p in progress.trustee_progress(list(v.trustees), events):
        typer.echo(progress.describe(p))
