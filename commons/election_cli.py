"""`commons election open`: a committee member opens an election from the keystore key, through
the API's relay (gasless) or as a direct transaction, checked and simulated first like every
`commons admin` act.

Each candidate's statement comes from a file (its first line is the candidate's name, as the
page shows it) and is stored through the API's /v1/texts before the election is signed; the
election commits to their keccak256, in the order given, which settles ties.

`commons election count ID`: anyone runs a closed election's count on the chain, one
`countStep` after another (each reading at most --ballots-per-step stored ballots), printing
each step's rounds and gas, until every seat is filled; an election already counted is only
reported.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from commons.acts import Signing, signed_act
from commons.errors import one_line_errors
from commons.proposal_cli import read_text
from ledger import admin, election_acts, election_count
from ledger.admin import RelayApi
from ledger.proposal_acts import period_seconds
from ledger.protocol.generated import ElectionKind, ElectionState
from ledger.protocol.offchain import COUNT_STEP_BALLOTS

election_app = typer.Typer(
    name="election",
    help="Elections: open one (a committee member's key), count a closed one (anyone's key). "
    "Checked and simulated before it is signed with --key (a name in the keystore, "
    "`commons key list`).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Kind(StrEnum):
    ranked = "ranked"
    approval = "approval"


@election_app.command("open")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def open_election(
    signing: Signing,
    community: Annotated[int, typer.Option("--community", metavar="ID", help="the community")],
    candidates: Annotated[
        list[Path],
        typer.Option(
            "--candidate",
            metavar="FILE",
            help="a candidate's statement (UTF-8; its first line is their name), once per "
            "candidate in the order that settles ties; stored through the API, its keccak256 "
            "recorded on-chain",
        ),
    ],
    kind: Annotated[
        Kind,
        typer.Option(
            "--kind",
            help="ranked: instant runoff (sequential for several seats); approval: the most "
            "approved win",
        ),
    ] = Kind.ranked,
    seats: Annotated[int, typer.Option("--seats", metavar="N", help="seats to fill")] = 1,
    max_choices: Annotated[
        int | None,
        typer.Option(
            "--max-choices",
            metavar="K",
            help="the most ranks (ranked) or approvals (approval) a ballot takes; default: "
            "every candidate (ranked), the number of seats (approval)",
        ),
    ] = None,
    period: Annotated[
        str,
        typer.Option(
            "--period", metavar="PERIOD", help="how long voting lasts: 7d, 12h, 30m or 90s"
        ),
    ] = "7d",
    opens_in: Annotated[
        str | None,
        typer.Option(
            "--opens-in",
            metavar="PERIOD",
            help="open voting this long from now (time to declare paper boxes: `commons box "
            "declare`) instead of at once: 1d, 2h, 30m or 90s",
        ),
    ] = None,
) -> None:
    """Open an election residents vote in. COMMITTEE only: --key is the member's key.

    It opens at once unless --opens-in; its voters are the community's roll as published now."""
    draft = election_acts.draft(
        community,
        [read_text(c) for c in candidates],
        kind=ElectionKind.Ranked if kind is Kind.ranked else ElectionKind.Approval,
        seats=seats,
        max_choices=max_choices,
        period=period,
    )
    chain = signing.chain()
    election_acts.check_draft(chain, draft)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    call = election_acts.open_election(draft, now, period_seconds(opens_in) if opens_in else 0)
    done = signing.act(
        call,
        chain=chain,
        prepare=lambda: election_acts.store_statements(RelayApi(signing.api), draft),
    )
    if signing.dry_run:
        typer.echo(f"statements: {len(draft.statements)}, not stored")
    if done is not None:
        typer.echo(f"election {done.event['electionId']} opened in community {community}")


@election_app.command("count")
@one_line_errors(interrupted="interrupted; the steps sent so far are on the chain")
@signed_act
def count_election(
    signing: Signing,
    election: Annotated[int, typer.Argument(metavar="ID", help="the election's number")],
    ballots_per_step: Annotated[
        int,
        typer.Option(
            "--ballots-per-step",
            metavar="N",
            help="the most stored ballots one step reads (bounds each transaction's gas)",
        ),
    ] = COUNT_STEP_BALLOTS,
) -> None:
    """Count a closed election on the chain, step by step until every seat is filled. Anyone
    may: --key is any key (through the relay it needs no gas)."""
    chain = signing.chain()
    found = election_count.status(chain, election)
    if found.state is ElectionState.Counted:
        typer.echo(f"already counted: winners {election_count.winners_text(found)}")
        return
    election_count.check_countable(found)
    call = election_count.count_step(election, ballots_per_step)
    if signing.dry_run:
        signing.act(call, chain=chain)
        return
    admin.preflight(chain, call, signing.keystore.entry(signing.key).address)
    typer.echo(f"election {election}: {found.ballots:,} ballots, {found.seats} seat(s) to fill")
    steps = election_count.run_count(chain, election, signing.sender(chain), ballots_per_step)
    for n, step in enumerate(steps, 1):
        now = step.status
        where = (
            "done"
            if now.state is ElectionState.Counted
            else f"seat {now.seats_filled + 1} round {now.round} in progress"
        )
        typer.echo(
            f"step {n}: {where}; gas used {step.gas_used:,} (block {step.block}, "
            f"transaction {step.tx_hash})"
        )
        for line in step.lines:
            typer.echo(f"  {line}")
        if now.state is ElectionState.Counted:
            typer.echo(f"counted: winners {election_count.winners_text(now)}")
