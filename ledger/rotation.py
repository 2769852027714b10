"""Replacing a resident's key (a lost or replaced phone), said once for the CLI, the brownie
script and the tests: the registrar's two calls, checked in one sentence before anything is
signed, and sent one after the other by any `Sender` (the API's relay, the registrar's own
account, a brownie account).

1. Registry.replaceResident(community, old, new): the old key leaves the roll and the fresh new
   one joins it, in a version put in force at once (ResidentReplaced);
2. TimeBank.carryOver(community, old): the old key's whole balance moves to the new key and the
   old key's account is retired (BalanceCarriedOver). The contract takes it only along the
   rotation step 1 recorded, so it cannot be simulated before step 1 is mined.

Records both sides signed with the old key but nobody relayed are refused from step 1 on
(KeyRetired): they are signed again with the new key.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.admin import ZERO_ADDRESS, AdminCall, AdminChain, AdminRefused, Sender, Signer
from ledger.admin import execute as execute_call
from ledger.admin import preflight as preflight_call
from ledger.hashing import checksum_address
from ledger.protocol.generated import ROLE_NAMES, Functions, Roles


def replace_resident(community: int, old: str, new: str) -> AdminCall:
    old, new = checksum_address(old), checksum_address(new)
    return AdminCall(
        "registry",
        Functions.replaceResident,
        (community, old, new),
        f"replace resident key {old} with {new} in community {community} and publish the roll",
        Signer.ROLE,
        "ResidentReplaced",
        community,
        Roles.REGISTRAR,
    )


def carry_over(community: int, old: str) -> AdminCall:
    old = checksum_address(old)
    return AdminCall(
        "timebank",
        Functions.carryOver,
        (community, old),
        f"carry the time-bank balance of {old} over to the key that replaced it in community "
        f"{community}",
        Signer.ROLE,
        "BalanceCarriedOver",
        community,
        Roles.REGISTRAR,
    )


@dataclass(frozen=True)
class Rotation:
    """Both calls of one rotation, in the order they are sent."""

    community: int
    old: str
    new: str

    @property
    def calls(self) -> tuple[AdminCall, AdminCall]:
        return (
            replace_resident(self.community, self.old, self.new),
            carry_over(self.community, self.old),
        )


@dataclass(frozen=True)
class Rotated:
    """A rotation on-chain: its two transactions and the minutes carried over."""

    replaced_tx: str
    carried_tx: str
    block: int
    version: int
    minutes: int


def check(chain: AdminChain, rotation: Rotation, signer: str) -> None:
    """Refuse in one sentence what the contracts would refuse, then simulate step 1 (which
    names any other refusal by the contract's error, e.g. NotOnRoll)."""
    registry = chain.registry.functions
    cid, old, new = rotation.community, rotation.old, rotation.new
    chain.admin_of(cid)  # the community exists
    replaced = checksum_address(registry.newKeyOf(cid, old).call())
    if replaced != ZERO_ADDRESS:
        raise AdminRefused(f"{old} was already replaced by {replaced} in community {cid}")
    if checksum_address(new) == ZERO_ADDRESS:
        raise AdminRefused("the new key cannot be the zero address")
    if chain.view("registry", "residentIndex", cid, new)["assigned"]:
        raise AdminRefused(
            f"{new} was on community {cid}'s roll before: the new key must be a fresh one"
        )
    preflight_call(chain, rotation.calls[0], signer)


def rotate(chain: AdminChain, rotation: Rotation, sender: Sender) -> Rotated:
    """Check, then send both calls from `sender`, each once the previous one is mined."""
    check(chain, rotation, sender.address)
    replace, carry = rotation.calls
    replaced = execute_call(chain, replace, sender)
    carried = execute_call(chain, carry, sender)
    return Rotated(
        replaced.tx_hash,
        carried.tx_hash,
        carried.block,
        int(replaced.event["version"]),
        int(carried.event["minutesMoved"]),
    )


def roles_held(chain: AdminChain, community: int, account: str) -> list[str]:
    """The roles `account` holds in `community`: a replacement moves none of them, so a lost
    phone's key keeps them until the admin revokes them."""
    registry = chain.registry.functions
    return [
        name
        for role, name in ROLE_NAMES.items()
        if registry.hasRole(community, role, account).call()
    ]


def finish(chain: AdminChain, community: int, old: str, sender: Sender) -> int:
    """Send step 2 alone, for a rotation whose step 1 is mined and whose step 2 was not sent
    (the registrar's session ended between the two). Returns the minutes moved."""
    done = execute_call(chain, carry_over(community, old), sender)
    return int(done.event["minutesMoved"])
