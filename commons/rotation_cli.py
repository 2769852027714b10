"""`commons roll replace OLD NEW`: a resident lost or replaced their phone; the registrar
replaces the old key with the fresh one on the roll and carries the time-bank balance over
(ledger.rotation: two calls, sent one after the other). `commons roll carry-over OLD` sends the
second call alone, for a rotation whose first call is mined and whose second was not.
"""

from __future__ import annotations

from typing import Annotated

import typer

from commons.acts import Community, Signing, signed_act
from commons.errors import one_line_errors
from ledger import rotation
from ledger.admin import AdminChain

OldKey = Annotated[
    str, typer.Argument(metavar="OLD", help="the lost key's address (0x...) or keystore name")
]
NewKey = Annotated[
    str,
    typer.Argument(
        metavar="NEW", help="the fresh key's address (0x...) or keystore name, never on the roll"
    ),
]


@one_line_errors(interrupted="interrupted; check `commons roll show` for what was sent")
@signed_act
def replace_resident(signing: Signing, old: OldKey, new: NewKey, community: Community) -> None:
    """Replace resident key OLD with the fresh key NEW (a lost or replaced phone) and carry its
    time-bank balance over. Registrar only.

    OLD leaves the roll and NEW joins it in a version put in force at once; OLD signs nothing more,
    and records it signed that were not yet sent must be signed again with NEW."""
    chain = signing.chain()
    plan = rotation.Rotation(community, signing.address_of(old), signing.address_of(new))
    signer = signing.keystore.entry(signing.key).address
    rotation.check(chain, plan, signer)  # before the passphrase is asked
    if signing.dry_run:
        _describe(signing, chain, plan, signer)
        _roles_note(chain, plan)
        return
    done = rotation.rotate(chain, plan, signing.sender(chain))
    typer.echo(f"done: {plan.old} replaced by {plan.new} in community {community}")
    typer.echo(f"  ResidentReplaced (roll version {done.version}), transaction {done.replaced_tx}")
    typer.echo(
        f"  BalanceCarriedOver ({done.minutes} minutes) in block {done.block}, "
        f"transaction {done.carried_tx}"
    )
    _roles_note(chain, plan)


def _roles_note(chain: AdminChain, plan: rotation.Rotation) -> None:
    """Name the roles the old key keeps (a replacement moves none) and what the admin does."""
    roles = rotation.roles_held(chain, plan.community, plan.old)
    if not roles:
        return
    cid = plan.community
    typer.echo(
        f"note: {plan.old} still holds {', '.join(roles)} in community {cid}: a replacement moves "
        "no role, and a lost phone's key keeps them until the admin revokes them, for each role:"
    )
    typer.echo(f"  commons admin revoke ROLE {plan.old} --community {cid} --key ADMIN")
    typer.echo(f"  commons admin grant ROLE {plan.new} --community {cid} --key ADMIN")


@one_line_errors(interrupted="interrupted; check `commons roll show` for what was sent")
@signed_act
def carry_over(signing: Signing, old: OldKey, community: Community) -> None:
    """Carry the time-bank balance of the replaced key OLD over to its replacement (the second
    step of `replace`, if it was not sent). Registrar only."""
    signing.act(rotation.carry_over(community, signing.address_of(old)))


def _describe(signing: Signing, chain: AdminChain, plan: rotation.Rotation, signer: str) -> None:
    replace, carry = plan.calls
    for step, call in (("1", replace), ("2, once 1 is mined", carry)):
        typer.echo(f"step {step}:")
        for line in call.describe(chain.deployment):
            typer.echo(f"  {line}")
    typer.echo(f"signer: key {signing.key!r} {signer}, via {signing.via.value}")
    typer.echo("dry run: step 1 checked and simulated; nothing was signed or sent")


def register_rotation(app: typer.Typer) -> None:
    app.command("replace")(replace_resident)
    app.command("carry-over")(carry_over)
