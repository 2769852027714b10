"""Published rolls, replayed from the Registry's events: who may vote or serve, per version."""

from __future__ import annotations

import threading
from typing import Any

from eth_abi.abi import decode as abi_decode
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from ledger.node import rpc
from ledger.protocol.generated import Events


def raw_logs(w3: Web3, address: str, topics: list[bytes]) -> list[dict[str, Any]]:
    """Raw eth_getLogs from genesis, in chain order: web3's log formatting costs more than the
    rest of loading a large roll or a proposal's voters."""
    logs: list[dict[str, Any]] = rpc(
        w3,
        "eth_getLogs",
        [{"address": address, "fromBlock": "0x0", "toBlock": "latest",
          "topics": ["0x" + t.hex() for t in topics]}],
    )  # fmt: skip
    return sorted(logs, key=lambda e: (int(e["blockNumber"], 16), int(e["logIndex"], 16)))


class RollCache:
    """Published rolls, per (community, version), replayed from the Registry's RollUpdated
    events; a published version never changes, so an entry never goes stale. Addresses are
    lowercase hex: read from raw logs without a checksum's keccak each (a roll can hold tens of
    thousands). The `keep` most recently loaded rolls are kept (each publication of each
    community is a new entry, and a large roll takes megabytes)."""

    def __init__(self, w3: Web3, registry: Contract, keep: int) -> None:
        self.w3 = w3
        self.registry = registry
        self.keep = keep
        self._rolls: dict[tuple[int, int], frozenset[str]] = {}
        self._load_lock = threading.Lock()

    def cached(self, community_id: int, version: int) -> frozenset[str] | None:
        """The roll if it is loaded already (no chain request), else None."""
        return self._rolls.get((community_id, version))

    def members(self, community_id: int, version: int) -> frozenset[str]:
        key = (community_id, version)
        roll = self._rolls.get(key)
        if roll is None:
            with self._load_lock:  # one load, however many requests arrive meanwhile
                roll = self._rolls.get(key)
                if roll is None:
                    roll = self._load(*key)
                    # A new dict, swapped in whole: readers never see one being resized.
                    kept = {**self._rolls, key: roll}
                    while len(kept) > self.keep:
                        del kept[next(iter(kept))]
                    self._rolls = kept
        return roll

    def was_resident(self, community_id: int, version: int, voter: str) -> bool:
        """Whether `voter` was on roll `version`: from the cache, and a "no" from it confirmed
        on-chain (the cache only ever says no too often, e.g. after an unusual log history)."""
        if voter.lower() in self.members(community_id, version):
            return True
        try:
            found: bool = self.registry.functions.wasResident(community_id, voter, version).call()
        except (ContractCustomError, ContractLogicError):
            return False
        return found

    def _load(self, community_id: int, version: int) -> frozenset[str]:
        members: set[str] = set()
        for entry in raw_logs(
            self.w3,
            self.registry.address,
            [Events.RollUpdated.topic, community_id.to_bytes(32, "big")],
        ):
            if int(entry["topics"][2], 16) > version:
                continue
            added, removed = abi_decode(
                ["address[]", "address[]"], bytes.fromhex(entry["data"][2:])
            )
            members.difference_update(a.lower() for a in removed)
            members.update(a.lower() for a in added)
        return frozenset(members)
