"""`commons initiative list`: a community's initiatives as the chain has them (for an admin or
an auditor; no key, no API): each one's state, co-signatures against its threshold, window and
the proposal it became."""

from __future__ import annotations

import time

import typer

from commons.acts import Community, Rpc
from commons.errors import one_line_errors
from ledger.config import Settings
from ledger.deploy import load_deployment
from ledger.node import connect
from ledger.protocol.generated import InitiativeState, InitiativeView

initiative_app = typer.Typer(
    name="initiative",
    help="Residents' initiatives, read from the chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _line(initiative_id: int, v: InitiativeView) -> str:
    state = InitiativeState(v.state).name
    became = f" -> proposal {v.proposalId}" if v.state == InitiativeState.Promoted else ""
    closes = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(v.closesAt))
    return (
        f"#{initiative_id} {state}{became}: {v.coSignatures}/{v.needed} co-signatures, "
        f"closes {closes}, by {v.author}, text 0x{bytes(v.textHash).hex()}"
    )


@initiative_app.command("list")
@one_line_errors(interrupted="interrupted")
def list_initiatives(community: Community, rpc: Rpc = None) -> None:
    """Print the community's initiatives, newest first, from the chain. No key needed."""
    settings = Settings(rpc_url=rpc) if rpc else Settings()
    w3 = connect(settings)
    contract = load_deployment(w3, settings).initiatives
    found = []
    for initiative_id in range(contract.functions.initiativeCount().call(), 0, -1):
        view = InitiativeView(**contract.functions.getInitiative(initiative_id).call()._asdict())
        if view.communityId == community:
            found.append(_line(initiative_id, view))
    typer.echo(f"community {community}: {len(found)} initiatives")
    for line in found:
        typer.echo(line)
