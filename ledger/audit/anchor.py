"""Anchors: the embedded chain's head (number, hash, state root) written into a second EVM
network as a plain transaction, so a rewrite of our chain contradicts a record its operator
does not control.

The transaction goes from the anchoring key to itself, its data `TAG ‖ number ‖ hash ‖ root`
(4 + 32 + 32 + 32 bytes). `var/audit/anchors.json` only says where to look (network and tx):
the audit reads each anchor back from that network and takes the head from the transaction's
data, so an edited file can hide an anchor but never change one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.ethcodec import hex_bytes, hex_int
from ledger.audit.model import AuditWarning
from ledger.audit.pins import Pin
from ledger.config import Settings
from ledger.errors import AuditInfraError, NodeError
from ledger.transport import RpcClient, node_name
from ledger.tx import send_data

TAG: Final = b"CLA\x01"  # Commons Ledger Anchor, version 1
PAYLOAD_BYTES: Final = 4 + 32 * 3


def anchors_path(settings: Settings) -> Path:
    return settings.data_dir / "audit" / "anchors.json"


def payload(number: int, block_hash: bytes, state_root: bytes) -> bytes:
    return TAG + number.to_bytes(32, "big") + block_hash + state_root


def parse(data: bytes) -> tuple[int, bytes, bytes] | None:
    if len(data) != PAYLOAD_BYTES or not data.startswith(TAG):
        return None
    return int.from_bytes(data[4:36], "big"), data[36:68], data[68:100]


def post(local_url: str, network_url: str, account: LocalAccount, path: Path) -> dict[str, Any]:
    """Anchor the local chain's latest block on the network at `network_url`; the record is
    appended to `path` and returned."""
    with RpcClient(local_url) as rpc:
        chain_id = hex_int(rpc.call("eth_chainId"))
        block = rpc.call("eth_getBlockByNumber", ["latest", False])
    number, block_hash, root = (
        hex_int(block["number"]),
        hex_bytes(block["hash"]),
        hex_bytes(block["stateRoot"]),
    )
    w3 = Web3(Web3.HTTPProvider(network_url))
    receipt = send_data(w3, account, account.address, payload(number, block_hash, root))
    record = {
        "chain_id": chain_id,
        "number": number,
        "hash": "0x" + block_hash.hex(),
        "state_root": "0x" + root.hex(),
        "network": network_url,
        "network_chain_id": w3.eth.chain_id,
        "tx": "0x" + bytes(receipt["transactionHash"]).hex(),
        "network_block": receipt["blockNumber"],
    }
    records = read(path)
    records.append(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(records, indent=2) + "\n")
    tmp.replace(path)
    return record


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AuditInfraError(f"cannot read the anchors {path}: {exc}") from exc
    if not isinstance(records, list):
        raise AuditInfraError(f"{path} is not a list of anchors")
    return [r for r in records if isinstance(r, dict)]


def collect(path: Path | None, chain_id: int) -> tuple[list[Pin], list[AuditWarning]]:
    """The heads anchored for this chain, each read back from its network's transaction."""
    pins: list[Pin] = []
    warnings: list[AuditWarning] = []
    for record in read(path) if path is not None else []:
        if record.get("chain_id") != chain_id:
            continue
        tx, network = str(record.get("tx")), str(record.get("network"))
        where = f"anchor tx {tx} on {node_name(network)}"
        try:
            with RpcClient(network, timeout=30) as rpc:
                found = rpc.call("eth_getTransactionByHash", [tx])
                receipt = rpc.call("eth_getTransactionReceipt", [tx]) if found else None
        except (AuditInfraError, NodeError) as exc:
            warnings.append(AuditWarning("chain.pin", None, None, f"{where} not checked: {exc}"))
            continue
        anchored = parse(hex_bytes(found.get("input", "0x"))) if found else None
        if receipt is None or hex_int(receipt["status"]) != 1 or anchored is None:
            warnings.append(
                AuditWarning(
                    "chain.pin", None, None, f"{where} is not on that network as an anchor"
                )
            )
            continue
        number, block_hash, root = anchored
        pins.append(Pin(where, chain_id, number, "0x" + block_hash.hex(), "0x" + root.hex()))
    return pins, warnings
