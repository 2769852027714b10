"""Typed client of the Registry: communities, roles, and the versioned resident roll.

A roll change is staged into the pending version and takes effect when that version is
published; proposals snapshot the published version when they open (see IRegistry.sol).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, NewType

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.tx import ErrorDecoder, raise_decoded, send

CommunityId = NewType("CommunityId", int)

# Registry entries are ~24k gas each; 500 per transaction stays far below a 30M block.
DEFAULT_ROLL_BATCH: Final = 500


@dataclass(frozen=True)
class RollSnapshot:
    version: int
    size: int


@dataclass(frozen=True)
class RollUpdate:
    """One `updateRoll` transaction: the pending version it staged into, and whether it
    published that version (then `published_size` is the roll size in force)."""

    version: int
    added: tuple[ChecksumAddress, ...]
    removed: tuple[ChecksumAddress, ...]
    published_size: int | None
    receipt: TxReceipt


class RegistryContract:
    """One Registry deployment. Every transaction goes through `ledger.tx.send`, so a broken rule
    raises `ContractRuleBroken` naming the custom error (e.g. "AlreadyOnRoll")."""

    def __init__(self, w3: Web3, contract: Contract, decoder: ErrorDecoder | None = None) -> None:
        self.w3 = w3
        self.contract = contract
        self.decoder = decoder or ErrorDecoder([contract.abi])

    def _call(self, fn: Any) -> Any:
        """A view call; a custom-error revert raises `ContractRuleBroken` as a send would."""
        try:
            return fn.call()
        except (ContractCustomError, ContractLogicError) as exc:
            raise_decoded(exc, self.decoder)
            raise  # raise_decoded always raises

    def _send(self, sender: LocalAccount, call: object) -> TxReceipt:
        return send(self.w3, sender, call, decoder=self.decoder)  # type: ignore[arg-type]

    # ------------------------------------------------------------ communities and roles

    def create_community(self, sender: LocalAccount, metadata_hash: bytes) -> CommunityId:
        receipt = self._send(sender, self.contract.functions.createCommunity(metadata_hash))
        (event,) = self.contract.events.CommunityCreated().process_receipt(receipt, errors=DISCARD)
        return CommunityId(int(event["args"]["communityId"]))

    def transfer_admin(self, sender: LocalAccount, community_id: int, new_admin: str) -> TxReceipt:
        """Name `new_admin` as the pending admin; the role moves when they `accept_admin`."""
        call = self.contract.functions.transferAdmin(community_id, to_checksum_address(new_admin))
        return self._send(sender, call)

    def accept_admin(self, sender: LocalAccount, community_id: int) -> TxReceipt:
        """The pending admin takes the admin role."""
        return self._send(sender, self.contract.functions.acceptAdmin(community_id))

    def cancel_admin_transfer(self, sender: LocalAccount, community_id: int) -> TxReceipt:
        return self._send(sender, self.contract.functions.cancelAdminTransfer(community_id))

    def pending_admin(self, community_id: int) -> str:
        """The account named to take over as admin (the zero address: none)."""
        return to_checksum_address(self.contract.functions.pendingAdmin(community_id).call())

    def grant_role(
        self, sender: LocalAccount, community_id: int, role: bytes, account: str
    ) -> TxReceipt:
        call = self.contract.functions.grantRole(community_id, role, to_checksum_address(account))
        return self._send(sender, call)

    def revoke_role(
        self, sender: LocalAccount, community_id: int, role: bytes, account: str
    ) -> TxReceipt:
        call = self.contract.functions.revokeRole(community_id, role, to_checksum_address(account))
        return self._send(sender, call)

    # ------------------------------------------------------------ auditor keys

    def register_auditor_key(
        self, sender: LocalAccount, community_id: int, key_fingerprint: bytes
    ) -> TxReceipt:
        """Register the sender's report key (sha256 of the raw Ed25519 public key)."""
        call = self.contract.functions.registerAuditorKey(community_id, key_fingerprint)
        return self._send(sender, call)

    def revoke_auditor_key(self, sender: LocalAccount, key_fingerprint: bytes) -> TxReceipt:
        return self._send(sender, self.contract.functions.revokeAuditorKey(key_fingerprint))

    def auditor_key(self, key_fingerprint: bytes) -> tuple[int, ChecksumAddress, int, int]:
        """(community, auditor, registered in block, revoked in block or 0); auditor is the
        zero address for a key never registered."""
        community, auditor, registered, revoked = self.contract.functions.auditorKey(
            key_fingerprint
        ).call()
        return int(community), to_checksum_address(auditor), int(registered), int(revoked)

    # ------------------------------------------------------------ roll

    def update_roll(
        self,
        sender: LocalAccount,
        community_id: int,
        added: Sequence[str] = (),
        removed: Sequence[str] = (),
        *,
        publish: bool = True,
    ) -> RollUpdate:
        add = tuple(to_checksum_address(a) for a in added)
        rem = tuple(to_checksum_address(a) for a in removed)
        receipt = self._send(
            sender,
            self.contract.functions.updateRoll(community_id, list(add), list(rem), publish),
        )
        (staged,) = self.contract.events.RollUpdated().process_receipt(receipt, errors=DISCARD)
        published = self.contract.events.RollPublished().process_receipt(receipt, errors=DISCARD)
        return RollUpdate(
            version=int(staged["args"]["version"]),
            added=add,
            removed=rem,
            published_size=int(published[0]["args"]["size"]) if published else None,
            receipt=receipt,
        )

    def publish_roll_in_batches(
        self,
        sender: LocalAccount,
        community_id: int,
        added: Sequence[str] = (),
        removed: Sequence[str] = (),
        *,
        batch_size: int = DEFAULT_ROLL_BATCH,
    ) -> list[RollUpdate]:
        """Stage a large change over several transactions and publish with the last one, so no
        proposal can ever snapshot a half-published roll."""
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        entries = [(a, True) for a in added] + [(r, False) for r in removed]
        if not entries:
            return [self.update_roll(sender, community_id, publish=True)]
        updates = []
        for start in range(0, len(entries), batch_size):
            chunk = entries[start : start + batch_size]
            updates.append(
                self.update_roll(
                    sender,
                    community_id,
                    [a for a, is_add in chunk if is_add],
                    [a for a, is_add in chunk if not is_add],
                    publish=start + batch_size >= len(entries),
                )
            )
        return updates

    def publish_roll(self, sender: LocalAccount, community_id: int) -> int:
        receipt = self._send(sender, self.contract.functions.publishRoll(community_id))
        (event,) = self.contract.events.RollPublished().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["version"])

    # ------------------------------------------------------------ views

    def community_admin(self, community_id: int) -> ChecksumAddress:
        return to_checksum_address(self._call(self.contract.functions.communityAdmin(community_id)))

    def has_role(self, community_id: int, role: bytes, account: str) -> bool:
        fn = self.contract.functions.hasRole(community_id, role, to_checksum_address(account))
        return bool(self._call(fn))

    def committee_size(self, community_id: int) -> int:
        return int(self._call(self.contract.functions.committeeSize(community_id)))

    def is_resident(self, community_id: int, account: str) -> bool:
        fn = self.contract.functions.isResident(community_id, to_checksum_address(account))
        return bool(self._call(fn))

    def was_resident(self, community_id: int, account: str, version: int) -> bool:
        fn = self.contract.functions.wasResident(
            community_id, to_checksum_address(account), version
        )
        return bool(self._call(fn))

    def roll_snapshot(self, community_id: int) -> RollSnapshot:
        version, size = self._call(self.contract.functions.rollSnapshot(community_id))
        return RollSnapshot(int(version), int(size))

    def pending_roll(self, community_id: int) -> RollSnapshot:
        version, size = self._call(self.contract.functions.pendingRoll(community_id))
        return RollSnapshot(int(version), int(size))

    def resident_index(self, community_id: int, account: str) -> int | None:
        assigned, index = self._call(
            self.contract.functions.residentIndex(community_id, to_checksum_address(account))
        )
        return int(index) if assigned else None
