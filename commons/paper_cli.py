"""`commons box declare`: a committee member declares a paper ballot box of an election before
it opens, with the residents assigned to it (who then vote on paper only), as a direct
transaction or a gasless forward request from the keystore key, checked and simulated first
like every `commons admin` act.
The box's label is stored through the API's /v1/texts, for pages to name the box by."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from commons.acts import Signing, signed_act
from commons.errors import one_line_errors
from ledger import paper_acts
from ledger.admin import RelayApi

box_app = typer.Typer(
    name="box",
    help="Paper ballot boxes of elections: declare one (a committee member's key). Checked and "
    "simulated before it is signed with --key (a name in the keystore, `commons key list`).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@box_app.command("declare")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def declare_box(
    signing: Signing,
    election: Annotated[int, typer.Option("--election", metavar="ID", help="the election")],
    label: Annotated[str, typer.Option("--label", metavar="TEXT", help="the box's name, e.g. A")],
    voters: Annotated[
        Path,
        typer.Option(
            "--voters",
            metavar="FILE",
            help="the residents assigned to the box: one address (0x...) a line",
        ),
    ],
) -> None:
    """Declare a paper box before the election opens. COMMITTEE only."""
    lines = [line.strip() for line in voters.read_text().splitlines()]
    addresses = [signing.address_of(line) for line in lines if line]
    chain = signing.chain()
    call = paper_acts.declare_box(chain, election, label, addresses)
    done = signing.act(
        call, chain=chain, prepare=lambda: paper_acts.store_label(RelayApi(signing.api), label)
    )
    if done is not None:
        typer.echo(f"box {done.event['boxId']} declared for election {election}")
