"""`brownie run scripts/replace_resident.py main COMMUNITY OLD NEW [SIGNER]`: a resident lost
or replaced their phone; replace key OLD with the fresh key NEW on the roll and carry OLD's
time-bank balance over to NEW (ledger.rotation, the same code as
`commons roll replace`). Registrar only."""

from __future__ import annotations

from brownie import web3

from ledger import rotation
from ledger.admin import AdminChain
from ledger.config import Settings
from ledger.deploy import load_deployment
from ledger.errors import LedgerError
from scripts.admin_acts import BrownieSender, signer_account


def main(community: str, old: str, new: str, signer: str = "0") -> None:
    plan = rotation.Rotation(int(community), old, new)
    try:
        chain = AdminChain(web3, load_deployment(web3, Settings(chain_id=web3.eth.chain_id)))
        done = rotation.rotate(chain, plan, BrownieSender(signer_account(signer)))
    except LedgerError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"done: {old} replaced by {new} in community {community}")
    print(f"  ResidentReplaced (roll version {done.version}), transaction {done.replaced_tx}")
    print(f"  BalanceCarriedOver ({done.minutes} minutes), transaction {done.carried_tx}")
