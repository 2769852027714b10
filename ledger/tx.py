"""The one send path: every transaction is built, simulated, signed and sent through here, so
custom-error decoding, nonces, fees and failure handling live in one place.

`send` and `send_data` go build → simulate → sign → send → wait in one call. The relayer builds
its batches from raw calldata and bounds their gas itself, and needs a step between signing and
sending (the signed transaction is recorded in the outbox before the node hears of it): it takes
the same steps one by one, `pending_nonce`, `fees`, `sign`, `broadcast`, `fetch_receipt`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from eth_abi.abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import collapse_if_tuple
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.types import TxReceipt

from ledger.errors import ContractRuleBroken, TxError, TxReverted
from ledger.hashing import checksum_address, keccak
from ledger.node import rpc

RECEIPT_TIMEOUT_S = 60
# EIP-7825's cap on one transaction's gas: a batch is bounded by it on every network, and by the
# node's block gas limit where that is lower.
TX_GAS_CAP = 16_777_216


class DecodedError(NamedTuple):
    name: str  # the custom error's, or "Error" for a plain require message
    args: tuple[Any, ...]


class ErrorDecoder:
    """Decodes revert data into a custom error name and arguments, from any of our ABIs
    (a call into one contract can revert with another's error)."""

    def __init__(self, abis: Iterable[Iterable[Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str]]] = {}
        # Argument names by error name and arity, for `describe` (an error's name with as many
        # arguments means the same declaration in each of our contracts).
        self._names: dict[tuple[str, int], list[str]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") == "error":
                    types = [collapse_if_tuple(i) for i in item.get("inputs", [])]
                    selector = keccak(f"{item['name']}({','.join(types)})".encode())[:4]
                    self._errors[selector] = (item["name"], types)
                    names = [str(i.get("name") or f"arg{n}") for n, i in enumerate(item["inputs"])]
                    self._names[(item["name"], len(names))] = names

    def decode(self, data: bytes) -> DecodedError | None:
        if len(data) < 4:
            return None
        if data[:4] == bytes.fromhex("08c379a0"):  # Error(string): a plain require message
            return DecodedError("Error", tuple(abi_decode(["string"], data[4:])))
        entry = self._errors.get(bytes(data[:4]))
        if entry is None:
            return None
        name, types = entry
        try:
            return DecodedError(name, tuple(abi_decode(types, data[4:])))
        except Exception:
            return DecodedError(name, ())

    def describe(self, name: str, args: tuple[Any, ...]) -> str:
        """A decoded error for people: `MissingRole(communityId=1, role=0xd6..., account=0x...)`
        with the ABI's argument names and bytes as 0x-hex (never Python's reprs)."""
        if name == "Error" and len(args) == 1:
            return f"the call reverted: {args[0]}"
        names = self._names.get((name, len(args)), [f"arg{n}" for n in range(len(args))])
        rendered = ", ".join(f"{k}={_plain(v)}" for k, v in zip(names, args, strict=True))
        return f"{name}({rendered})"

    def describe_data(self, data: bytes | None) -> str:
        """Revert data for people: the decoded error (see `describe`), or what is known."""
        if not data:
            return "the call reverted without a reason"
        decoded = self.decode(data)
        if decoded is None:
            return f"the call reverted with an unknown error (selector 0x{bytes(data[:4]).hex()})"
        return self.describe(*decoded)


def _plain(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return checksum_address(value)  # the ABI decoder gives addresses in lower case
    return str(value)


def view(call: ContractFunction) -> dict[str, Any]:
    """A view's return values by the names its ABI gives them:
    `view(registry.functions.rollSnapshot(1))["version"]`, never a position."""
    values = call.call()
    names = [str(o["name"]) for o in call.abi["outputs"]]
    return dict(zip(names, values if len(names) > 1 else [values], strict=True))


def revert_data(exc: Exception) -> bytes | None:
    """The raw revert bytes carried by web3's exceptions, if any."""
    data: Any = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return bytes(HexBytes(data))
    return None


def raise_decoded(exc: Exception, decoder: ErrorDecoder, tx_hash: str | None = None) -> None:
    data = revert_data(exc)
    decoded = decoder.decode(data) if data else None
    if decoded is not None:
        raise ContractRuleBroken(decoded.name, decoded.args, tx_hash) from exc
    raise TxReverted(f"reverted: {exc}", tx_hash) from exc


def send(
    w3: Web3,
    account: LocalAccount,
    call: ContractFunction | ContractConstructor,
    *,
    decoder: ErrorDecoder | None = None,
    gas: int | None = None,
    nonce: int | None = None,
) -> TxReceipt:
    """Send `call` from `account` and wait for it to be mined.

    Simulates first (gas estimation), so a broken rule raises `ContractRuleBroken` naming the
    contract's custom error before anything is signed.
    """
    abi: Any = call.abi if isinstance(call, ContractConstructor) else call.contract_abi
    decoder = decoder or ErrorDecoder([list(abi)])
    params: dict[str, Any] = {
        "from": account.address,
        "nonce": nonce if nonce is not None else pending_nonce(w3, account.address),
        "chainId": w3.eth.chain_id,
    }
    if gas is not None:
        params["gas"] = gas
    try:
        tx = call.build_transaction(params)  # type: ignore[arg-type]
    except (ContractCustomError, ContractLogicError) as exc:
        raise_decoded(exc, decoder)
    return _sign_send_wait(w3, account, tx)


def send_data(w3: Web3, account: LocalAccount, to: str, data: bytes) -> TxReceipt:
    """Send a plain transaction carrying `data` (no contract call: e.g. an anchor) and wait."""
    params: dict[str, Any] = {
        "from": account.address,
        "to": to,
        "data": "0x" + data.hex(),
        "value": 0,
        "nonce": pending_nonce(w3, account.address),
        "chainId": w3.eth.chain_id,
    }
    params["gas"] = w3.eth.estimate_gas(params)  # type: ignore[arg-type]
    return _sign_send_wait(w3, account, params | fees(w3))


def _sign_send_wait(w3: Web3, account: LocalAccount, tx: Any) -> TxReceipt:
    signed = sign(account, tx)
    try:
        broadcast(w3, signed.raw)
    except Web3RPCError as exc:
        raise TxError(f"node refused the transaction: {exc}") from exc
    receipt = w3.eth.wait_for_transaction_receipt(HexBytes(signed.hash), timeout=RECEIPT_TIMEOUT_S)
    if receipt["status"] != 1:
        raise TxReverted("transaction reverted", signed.hash)
    return receipt


def pending_nonce(w3: Web3, address: str) -> int:
    """The nonce `address`'s next transaction takes, counting those still in the node's pool."""
    return int(w3.eth.get_transaction_count(address, "pending"))  # type: ignore[arg-type]


def fees(w3: Web3) -> dict[str, int]:
    """EIP-1559 fee fields that stay good for a few blocks: twice the latest base fee plus the
    node's suggested tip (no tip on a chain without a base fee)."""
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
    tip = int(w3.eth.max_priority_fee) if base_fee else 0
    return {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}


@dataclass(frozen=True)
class SignedTx:
    hash: str  # 0x-hex
    raw: bytes


def sign(account: LocalAccount, tx: dict[str, Any]) -> SignedTx:
    """Sign a complete transaction (nonce, chain id, gas and fees set); nothing is sent."""
    signed = account.sign_transaction(tx)
    return SignedTx("0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction))


def broadcast(w3: Web3, raw: bytes) -> None:
    """Hand a signed transaction to the node. The node's refusal is raised as it came (its
    words say whose fault it is: see relay.relayer.batch_at_fault)."""
    w3.eth.send_raw_transaction(raw)


def fetch_receipt(w3: Web3, tx_hash: str | bytes) -> TxReceipt | None:
    """A transaction's receipt, or None while it is not mined.

    Raw `eth_getTransactionReceipt`, typed by hand for the fields the relay and web3's event
    decoding read: web3's generic result formatters cost more than the rest of settling a
    batch of a hundred ballots.
    """
    key = tx_hash if isinstance(tx_hash, str) else "0x" + tx_hash.hex()
    raw = rpc(w3, "eth_getTransactionReceipt", [key])
    if raw is None:
        return None
    block_hash = HexBytes(raw["blockHash"])
    block_number = int(raw["blockNumber"], 16)
    logs = [
        {
            "address": checksum_address(entry["address"]),
            "topics": [HexBytes(t) for t in entry["topics"]],
            "data": HexBytes(entry["data"]),
            "logIndex": int(entry["logIndex"], 16),
            "transactionIndex": int(entry["transactionIndex"], 16),
            "transactionHash": HexBytes(entry["transactionHash"]),
            "blockHash": block_hash,
            "blockNumber": block_number,
            "removed": bool(entry.get("removed", False)),
        }
        for entry in raw["logs"]
    ]
    receipt = {
        "transactionHash": HexBytes(raw["transactionHash"]),
        "transactionIndex": int(raw["transactionIndex"], 16),
        "blockHash": block_hash,
        "blockNumber": block_number,
        "from": checksum_address(raw["from"]),
        "status": int(raw["status"], 16),
        "gasUsed": int(raw["gasUsed"], 16),
        "logs": logs,
    }
    return cast(TxReceipt, receipt)
