"""Follow our contracts' events into SQLite for fast reads; survive restarts and reorgs.

The index is a cache of the chain, never a source of truth (the audit reads the chain itself).
codec.py decodes a log into named args; store.py holds the SQLite file; sync.py follows the
chain (and its reorgs) and checks what is stored against it; queries.py answers the API's reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from web3 import Web3

from ledger.config import Settings
from ledger.index.queries import IndexQueries
from ledger.index.store import ContractSpec
from ledger.index.sync import IndexSync

if TYPE_CHECKING:
    from ledger.deploy import Deployment


class EventIndex(IndexSync, IndexQueries):
    """Events of the given contracts, from `start_block` to the chain head, in SQLite.

    `contracts` maps a key ("council", "fund", ...) to (address, abi). One thread syncs (or
    `follow`s); any thread may read.
    """

    @classmethod
    def for_deployment(
        cls, db_path: Path | str, w3: Web3, deployment: Deployment, settings: Settings
    ) -> EventIndex:
        """The index of every contract of a deployment, from its first block."""
        contracts: dict[str, ContractSpec] = {
            key: (c.address, list(c.abi)) for key, c in deployment.contracts.items()
        }
        return cls(db_path, w3, contracts, deployment.start_block, settings)
