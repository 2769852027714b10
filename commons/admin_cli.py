"""`commons admin`: a community's administrative acts from the admin's (or registrar's, or
auditor's) key in the keystore, through the API's relay (gasless) or as a direct transaction.

Every command checks first what the contract will check and simulates the call, so a refusal
is one line on stderr and exit status 1 before anything is signed; `--dry-run` stops there
and prints the call. The passphrase is asked at the terminal or read from `--passphrase-fd`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from web3 import Web3

from commons.acts import Account, Community, Rpc, Signing, signed_act
from commons.errors import one_line_errors
from ledger import admin
from ledger.admin import AdminChain
from ledger.audit.jobs import default_key_path
from ledger.audit.report import load_public_key, raw_public_key
from ledger.audit.signers import fingerprint as key_fingerprint
from ledger.config import Settings
from ledger.deploy import load_deployment
from ledger.node import connect

BYTES32 = re.compile(r"^0x[0-9a-fA-F]{64}$")

admin_app = typer.Typer(
    name="admin",
    help="A community's administrative acts: create it, hand over its admin role, grant and "
    "revoke roles, set the payout approval threshold, the fund's currency and the time bank's "
    "limits, register report keys (the roll is `commons roll`). Each is checked and simulated "
    "before it is signed with --key (a name in the keystore, `commons key list`).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _bytes32(text: str, what: str) -> bytes:
    if not BYTES32.match(text):
        raise admin.AdminRefused(f"{what} must be 0x and 64 hex digits, got {text!r}")
    return bytes.fromhex(text[2:])


@admin_app.command("create-community")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def create_community(
    signing: Signing,
    description: Annotated[
        str,
        typer.Argument(
            metavar="TEXT",
            help="the community's public description; its keccak256 is recorded on-chain",
        ),
    ],
) -> None:
    """Create a community whose admin is the signer; prints its id."""
    call = admin.create_community(Web3.keccak(text=description))
    done = signing.act(call)
    if done is not None:
        typer.echo(f"community {done.event['communityId']} created, admin {done.event['admin']}")


@admin_app.command("transfer-admin")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def transfer_admin(
    signing: Signing,
    new_admin: Account,
    community: Community,
) -> None:
    """Offer the admin role to ACCOUNT (step 1 of 2). Admin only.

    The role moves only when ACCOUNT runs accept-admin, so a mistyped address loses nothing."""
    signing.act(admin.transfer_admin(community, signing.address_of(new_admin)))


@admin_app.command("accept-admin")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def accept_admin(
    signing: Signing,
    community: Community,
) -> None:
    """Take the admin role offered to the signer (step 2 of 2). Pending admin only."""
    signing.act(admin.accept_admin(community))


@admin_app.command("cancel-admin-transfer")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def cancel_admin_transfer(
    signing: Signing,
    community: Community,
) -> None:
    """Withdraw a pending admin offer. Admin only."""
    signing.act(admin.cancel_admin_transfer(community))


ROLE_HELP = f"one of {', '.join(sorted(admin.ROLES))}"


@admin_app.command("grant")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def grant(
    signing: Signing,
    role: Annotated[str, typer.Argument(metavar="ROLE", help=ROLE_HELP)],
    account: Account,
    community: Community,
) -> None:
    """Grant ROLE in the community to ACCOUNT. Admin only."""
    call = admin.grant_role(community, admin.role_id(role), signing.address_of(account))
    signing.act(call)


@admin_app.command("revoke")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def revoke(
    signing: Signing,
    role: Annotated[str, typer.Argument(metavar="ROLE", help=ROLE_HELP)],
    account: Account,
    community: Community,
) -> None:
    """Revoke ROLE in the community from ACCOUNT. Admin only."""
    call = admin.revoke_role(community, admin.role_id(role), signing.address_of(account))
    signing.act(call)


@admin_app.command("set-threshold")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def set_threshold(
    signing: Signing,
    threshold: Annotated[
        int,
        typer.Argument(metavar="N", help="approvals each payout needs: 1 to the committee's size"),
    ],
    community: Community,
) -> None:
    """Set how many committee members must approve each payout. Admin only.

    N is at most the committee's size: grant COMMITTEE first."""
    signing.act(admin.set_approval_threshold(community, threshold))


@admin_app.command("set-currency")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def set_currency(
    signing: Signing,
    code: Annotated[
        str, typer.Argument(metavar="CODE", help="three capital letters (ISO 4217), e.g. CNY")
    ],
    community: Community,
) -> None:
    """Set the currency the community's fund is kept in, once and for good. Admin only."""
    signing.act(admin.set_currency(community, admin.currency_code(code)))


@admin_app.command("set-limits")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def set_limits(
    signing: Signing,
    community: Community,
    floor: Annotated[
        int, typer.Option("--floor", help="lowest time-bank balance, in minutes (0 or less)")
    ],
    ceiling: Annotated[
        int, typer.Option("--ceiling", help="highest time-bank balance, in minutes (0 or more)")
    ],
) -> None:
    """Set the time bank's balance limits, in minutes. Admin only.

    No one may owe more than --floor nor hold more than --ceiling; they can be changed later."""
    signing.act(admin.set_limits(community, floor, ceiling))


def _fingerprint(fingerprint: str | None, report_key: Path | None, settings: Settings) -> bytes:
    if fingerprint is not None and report_key is not None:
        raise admin.AdminRefused("give the key as one of --fingerprint or --report-key")
    if fingerprint is not None:
        return _bytes32(fingerprint, "--fingerprint")
    path = report_key or default_key_path(settings)
    if not path.exists():
        raise admin.AdminRefused(f"no report key at {path}: create one with `commons audit keygen`")
    return key_fingerprint(raw_public_key(load_public_key(path)))


Fingerprint = Annotated[
    str | None,
    typer.Option(
        "--fingerprint",
        metavar="0x…",
        help="sha256 of the raw Ed25519 report key (as `commons audit keygen` reports it)",
    ),
]
ReportKey = Annotated[
    Path | None,
    typer.Option(
        "--report-key",
        metavar="PEM",
        help="the report key (`commons audit keygen`'s file; default: its default path)",
    ),
]


@admin_app.command("register-auditor-key")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def register_auditor_key(
    signing: Signing,
    community: Community,
    fingerprint: Fingerprint = None,
    report_key: ReportKey = None,
) -> None:
    """Register the auditor's report key, so verify-report names its reports' signer.

    AUDITOR only: --key is the auditor's own key (the admin grants AUDITOR first)."""
    key_fp = _fingerprint(fingerprint, report_key, signing.settings)
    call = admin.register_auditor_key(community, key_fp)
    signing.act(call)


@admin_app.command("revoke-auditor-key")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def revoke_auditor_key(
    signing: Signing,
    fingerprint: Fingerprint = None,
    report_key: ReportKey = None,
) -> None:
    """Revoke an audit report key for good. By its auditor or its community's admin.

    For a lost key, or an auditor let go: reports it signs from this block on are refused."""
    key_fp = _fingerprint(fingerprint, report_key, signing.settings)
    signing.act(admin.revoke_auditor_key(key_fp))


@admin_app.command("show")
@one_line_errors(interrupted="interrupted; nothing was sent")
def show(
    community: Community,
    rpc: Rpc = None,
) -> None:
    """Print a community's admin, roles, fund settings, limits and roll.

    Read from the chain; no key needed."""
    settings = Settings(rpc_url=rpc) if rpc else Settings()
    w3 = connect(settings)
    chain = AdminChain(w3, load_deployment(w3, settings))
    for line in admin.community_summary(chain, community):
        typer.echo(line)


@admin_app.command("history")
@one_line_errors(interrupted="interrupted; nothing was sent")
def history(
    community: Community,
    rpc: Rpc = None,
) -> None:
    """Print every administrative act of a community, oldest first.

    Read from the chain's events; no key needed."""
    settings = Settings(rpc_url=rpc) if rpc else Settings()
    w3 = connect(settings)
    chain = AdminChain(w3, load_deployment(w3, settings))
    for line in admin.community_history(chain, community):
        typer.echo(line)
