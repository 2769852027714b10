"""`commons roll`: the registrar's roll from the command line: who is on it, the join requests
waiting, adding and removing residents (by address, key name or a join request's code),
publishing, and importing a CSV of residents in batches.

Every act goes through ledger/admin.py's path (checked and simulated before the passphrase is
asked, `--dry-run`, `--via relay|direct`, keys from the keystore); a refusal is one line and
exit status 1. The roll is read from the chain; a join request from the API is used only once
its signature is checked here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from eth_account.signers.local import LocalAccount

from commons.acts import Api, Community, Key, PassphraseFd, Rpc, Signing, Via, signed_act
from commons.errors import one_line_errors
from ledger import admin, roll
from ledger.admin import AdminCall, AdminChain, DirectSender, RelayApi, RelaySender, Sender
from ledger.config import Settings
from ledger.deploy import load_deployment
from ledger.node import connect
from ledger.passphrase import read_passphrase
from ledger.roll import RegistrarApi

CODE = re.compile(r"^[0-9A-Za-z]{4}-[0-9A-Za-z]{4}$")
INTERRUPTED = "interrupted; what was sent before is on the chain (`commons roll show`)"

roll_app = typer.Typer(
    name="roll",
    help="The roll of residents (REGISTRAR): show it, list join requests, add and remove "
    "residents, publish, import a CSV. Acts are checked and simulated before they are signed "
    "with --key (a name in the keystore, `commons key list`).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

Publish = Annotated[
    bool,
    typer.Option("--publish/--stage", help="put the roll in force now, or only stage the change"),
]
Accounts = Annotated[
    list[str],
    typer.Argument(
        metavar="ACCOUNT...",
        help="addresses (0x...), key names in the keystore, or join codes (XXXX-XXXX)",
    ),
]


def _unlock(signing: Signing) -> LocalAccount:
    prompt = f"passphrase of key {signing.key!r}: "
    return signing.keystore.unlock(signing.key, read_passphrase(prompt, signing.passphrase_fd))


def _sender(signing: Signing, chain: AdminChain, account: LocalAccount) -> Sender:
    if signing.via is Via.direct:
        return DirectSender(account)
    relay = RelayApi(signing.api)
    relay.check_serves(chain)
    return RelaySender(account, relay)


def _dry_run(signing: Signing, chain: AdminChain, calls: list[AdminCall]) -> None:
    signer = signing.keystore.entry(signing.key).address
    for call in calls:
        gas = admin.preflight(chain, call, signer)
        for line in call.describe(chain.deployment):
            typer.echo(line)
        typer.echo(f"simulated gas: {gas}")
    how = "a direct transaction" if signing.via is Via.direct else f"the relay {signing.api}"
    typer.echo(f"signer: key {signing.key!r} {signer}, via {how}")
    typer.echo("dry run: checked and simulated; nothing was signed or sent")


def _send(
    signing: Signing, chain: AdminChain, calls: list[AdminCall], account: LocalAccount
) -> list[admin.Done]:
    """Send checked calls in order, each once the one before it is on the chain."""
    sender = _sender(signing, chain, account)
    done = []
    for n, call in enumerate(calls, start=1):
        result = admin.execute(chain, call, sender)
        where = f"block {result.block}, transaction {result.tx_hash}"
        typer.echo(f"{n}/{len(calls)} done: {call.what} ({where})")
        done.append(result)
    return done


def _in_force(chain: AdminChain, community: int) -> None:
    now = roll.read_roll(chain, community)
    typer.echo(f"roll version {now.version} in force: {len(now.published)} residents")


@roll_app.command("show")
@one_line_errors(interrupted="interrupted")
def show(community: Community, rpc: Rpc = None) -> None:
    """Print the roll in force and the staged changes, from the chain. No key needed."""
    settings = Settings(rpc_url=rpc) if rpc else Settings()
    w3 = connect(settings)
    now = roll.read_roll(AdminChain(w3, load_deployment(w3, settings)), community)
    joining, leaving = now.staged - now.published, now.published - now.staged
    typer.echo(
        f"community {community}: roll version {now.version}, {len(now.published)} residents; "
        f"staged: {len(joining)} joining, {len(leaving)} leaving"
    )
    for address in sorted(now.published | now.staged):
        mark = "+" if address in joining else "-" if address in leaving else " "
        typer.echo(f"{mark} {address}")


@roll_app.command("pending")
@one_line_errors(interrupted="interrupted")
def pending(
    community: Community,
    key: Key,
    passphrase_fd: PassphraseFd = None,
    api: Api = None,
    rpc: Rpc = None,
) -> None:
    """List the join requests whose resident is not on the roll, each signature checked here.

    REGISTRAR only (the API asks the registrar to sign in with --key)."""
    signing = Signing(key, passphrase_fd, Via.relay, api, rpc)
    chain = signing.chain()
    registrar = RegistrarApi(signing.api, _unlock(signing))
    registrar.check_serves(chain)
    found = registrar.pending(community)
    typer.echo(f"community {community}: {len(found)} join requests waiting")
    for data in found:
        try:
            roll.checked_join(chain, community, data)
            checked = "signature checked"
        except admin.AdminRefused as exc:
            checked = f"REFUSED: {exc}"
        asked = datetime.fromtimestamp(int(data["issuedAt"]), UTC).strftime("%Y-%m-%d %H:%M")
        typer.echo(
            f"{data['code']}  {data['resident']}  asked {asked} UTC  {data['status']}  {checked}"
        )


def _resolve(signing: Signing, chain: AdminChain, community: int, accounts: list[str]) -> list[str]:
    """Addresses for ACCOUNT... (a join code's resident once its signature is checked)."""
    relay = RelayApi(signing.api)
    found = []
    for given in accounts:
        if CODE.match(given):
            request = roll.join_by_code(relay, chain, community, given)
            typer.echo(f"join request {given.upper()}: {request.resident}, signature checked")
            found.append(request.resident)
        else:
            found.append(signing.address_of(given))
    return found


@roll_app.command("add")
@one_line_errors(interrupted=INTERRUPTED)
@signed_act
def add(
    signing: Signing,
    accounts: Accounts,
    community: Community,
    person: Annotated[
        str | None,
        typer.Option(
            "--person",
            metavar="TEXT",
            help="who the one resident added is (name, building/unit): kept off-chain by the "
            "API, for registrars only",
        ),
    ] = None,
    publish: Publish = True,
) -> None:
    """Add residents to the roll (and publish it). REGISTRAR only."""
    if person is not None and len(accounts) != 1:
        raise admin.AdminRefused("--person names one resident: add one account with it")
    chain = signing.chain()
    added = _resolve(signing, chain, community, accounts)
    call = admin.update_roll(community, added, [], publish)
    if signing.dry_run:
        _dry_run(signing, chain, [call])
        return
    admin.preflight(chain, call, signing.keystore.entry(signing.key).address)
    account = _unlock(signing)
    _send(signing, chain, [call], account)
    if person is not None:
        RegistrarApi(signing.api, account).record_person(community, added[0], person)
        typer.echo(f"recorded who {added[0]} is (off-chain)")
    _in_force(chain, community)


@roll_app.command("remove")
@one_line_errors(interrupted=INTERRUPTED)
@signed_act
def remove(
    signing: Signing, accounts: Accounts, community: Community, publish: Publish = True
) -> None:
    """Take residents off the roll (and publish it). REGISTRAR only."""
    removed = [signing.address_of(a) for a in accounts]
    if signing.act(admin.update_roll(community, [], removed, publish)):
        _in_force(signing.chain(), community)


@roll_app.command("publish")
@one_line_errors(interrupted=INTERRUPTED)
@signed_act
def publish_staged(signing: Signing, community: Community) -> None:
    """Put the staged changes in force as the next roll version. REGISTRAR only."""
    if signing.act(admin.publish_roll(community)):
        _in_force(signing.chain(), community)


@roll_app.command("import")
@one_line_errors(interrupted=INTERRUPTED)
@signed_act
def import_csv(
    signing: Signing,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.csv",
            help="a header row with an `address` column and optionally a `person` column",
        ),
    ],
    community: Community,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=1, max=roll.BATCH_SIZE, help="residents per transaction"),
    ] = roll.BATCH_SIZE,
    publish: Publish = True,
) -> None:
    """Add every resident of a CSV file, in batches, then publish. REGISTRAR only.

    The whole file is checked first (a bad row is refused with its line number, nothing sent).
    Residents already on the roll (in force or staged) are skipped and counted, so a run that
    was interrupted can be run again. A `person` column is recorded off-chain through the API."""
    rows = roll.read_csv(file)
    chain = signing.chain()
    now = roll.read_roll(chain, community)
    new = [r.address for r in rows if r.address not in now.staged]
    groups = list(roll.batches(new, batch_size))
    typer.echo(
        f"{file}: {len(rows)} residents; {len(rows) - len(new)} already on the roll (skipped), "
        f"{len(new)} to add in {len(groups)} batches of up to {batch_size}"
    )
    calls = [
        admin.update_roll(community, group, [], publish and n == len(groups))
        for n, group in enumerate(groups, start=1)
    ]
    if publish and not calls and now.staged != now.published:
        calls = [admin.publish_roll(community)]  # an earlier run staged them all, then stopped
    if signing.dry_run:
        _dry_run(signing, chain, calls)
        return
    people = [r for r in rows if r.person is not None]
    if not calls and not people:
        _in_force(chain, community)
        return
    if calls:  # refused in one line before the passphrase is asked
        admin.preflight(chain, calls[0], signing.keystore.entry(signing.key).address)
    account = _unlock(signing)
    registrar = RegistrarApi(signing.api, account)
    if people:
        registrar.check_serves(chain)  # before anything is sent: the people need the API
    _send(signing, chain, calls, account)
    for row in people:
        registrar.record_person(community, row.address, row.person or "")
    if people:
        typer.echo(f"recorded who {len(people)} residents are (off-chain)")
    _in_force(chain, community)
