"""Re-execution: every transaction that created or touched the project's contracts, replayed
from the deployment on in revm (through pyrevm), an EVM implementation that is not the node's.

The node is trusted for nothing here. The transactions come from blocks whose hashes, parent
links and transaction roots the walk has checked (ledger/audit/fetch.py); revm runs them with
the blocks' own context (number, time, coinbase, randomness, gas limit); and afterwards each
contract's whole storage, as revm left it, must hash to the storage root that the node proves
against the audited block's state root (eth_getProof, checked in ledger/audit/proofs.py), and
its code to the proven code hash — immutables included, since revm ran the constructors. A
storage word the node holds that no transaction wrote, a word changed by hand, a value an
immutable was given after the fact: each changes a root and is named.

Fees are not modelled (the replay runs with a base fee and gas price of 0): they move ether,
never our contracts' storage. pyrevm keeps one journal open across the calls it runs, so a slot
warmed or written by an earlier transaction counts as warm (and its value then as the "original"
one) in the next: gas is accounted as if the transactions were one. Where that makes a
transaction's outcome differ from the chain's (one sent with exactly its estimated gas that
deletes and writes a word again, say), the replay runs it once more in a fresh revm that holds
the same state with nothing warm, which is how the chain ran it; only a difference that remains
is a finding. A transaction that reaches our contracts through a contract of
someone else's cannot be replayed without that contract's state; it is named, and the storage
check then says whether it mattered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyrevm
import rlp

from ledger.audit.ethcodec import hex_bytes, hex_int, trie_root
from ledger.audit.fetch import VerifiedChunk
from ledger.audit.model import AuditWarning, Finding
from ledger.audit.proofs import ProofError, verify_account, verify_storage
from ledger.audit.slots import Keys, SlotNamer
from ledger.errors import AuditInfraError
from ledger.hashing import checksum_address, keccak
from ledger.transport import RpcClient

# A bound on any replayed transaction's gas, should a header say 0.
MAX_GAS = 2**63 - 1


@dataclass(slots=True)
class ReplayTx:
    """What a transaction needs to be run again (from a verified block)."""

    hash: str
    sender: bytes
    to: bytes | None
    input: bytes
    value: int
    gas: int
    nonce: int
    success: bool
    created: bytes | None  # the contract a creation made, per its receipt


@dataclass(slots=True)
class ReplayBlock:
    number: int
    timestamp: int
    coinbase: bytes
    prevrandao: bytes
    gas_limit: int
    txs: list[ReplayTx] = field(default_factory=list)


def spec_of(header: dict[str, Any]) -> str:
    """The fork a header belongs to, from the fields it carries (EIP-7685, -4788, -4895)."""
    if header.get("requestsHash"):
        return "PRAGUE"
    if header.get("parentBeaconBlockRoot") or header.get("blobGasUsed") is not None:
        return "CANCUN"
    if header.get("withdrawalsRoot"):
        return "SHANGHAI"
    return "MERGE"


# pyrevm exposes the journaled state only as Rust's Debug text. The format is pinned with the
# package (requirements.lock) and checked at start-up by `Replayer.self_test`.
_ACCOUNT = re.compile(r"(0x[0-9a-fA-F]{40}): Account \{ info: ")
_CHANGE = re.compile(r"StorageChange \{ address: (0x[0-9a-fA-F]{40}), key: (\d+)")
_SLOT = re.compile(
    r"(\d+): StorageSlot \{ previous_or_original_value: \d+, present_value: (\d+) \}"
)


class Replayer:
    """One revm instance fed block after block, in chain order."""

    def __init__(self, chain_id: int, contracts: dict[str, bytes], spec: str) -> None:
        self.chain_id = chain_id
        self.contracts = contracts
        self.ours = set(contracts.values())
        self.spec = spec
        self.evm = self._new_evm()
        self._block_env: pyrevm.BlockEnv | None = None
        # Our contracts' words put in the current revm's database when it was made afresh (the
        # journal shows only those a transaction touched since), and the words written then
        # cleared before it: what a fresh revm's journal no longer shows.
        self._base: dict[bytes, dict[int, int]] = {a: {} for a in self.ours}
        self._cleared_before: dict[bytes, set[int]] = {a: set() for a in self.ours}
        # The blocks run so far, to run them again up to an earlier block (bisection).
        self.history: list[ReplayBlock] = []
        self.findings: list[Finding] = []
        self.warnings: list[AuditWarning] = []
        self.transactions = 0
        self.blocks = 0
        self.next_block: int | None = None
        self.seconds = 0.0
        # What the transactions to each contract carried (and, through the forwarder, to any):
        # the guesses that name a mapping's slots.
        self.keys: dict[bytes, Keys] = {a: Keys() for a in self.ours}
        self._namers: dict[str, SlotNamer] = {}
        self._parsed: dict[bytes, tuple[dict[int, int], set[int]]] | None = None

    def _new_evm(self) -> pyrevm.EVM:
        return pyrevm.EVM(
            env=pyrevm.Env(cfg=pyrevm.CfgEnv(chain_id=self.chain_id)), spec_id=self.spec
        )

    @staticmethod
    def self_test() -> None:
        """The storage read-back works on this pyrevm: a known word written, found again."""
        evm = pyrevm.EVM(spec_id="CANCUN")
        target = "0x" + "c0" * 20
        # sstore(calldataload(0), calldataload(32))
        evm.insert_account_info(target, pyrevm.AccountInfo(code=bytes.fromhex("6020356000355500")))
        evm.message_call(
            "0x" + "ca" * 20, target, (7).to_bytes(32, "big") + (9).to_bytes(32, "big")
        )
        probe = Replayer(1, {"probe": bytes.fromhex("c0" * 20)}, "CANCUN")
        probe.evm = evm
        if probe.storage(bytes.fromhex("c0" * 20)) != {7: 9}:
            raise AuditInfraError("this pyrevm's state cannot be read back: re-execution is off")

    def feed(self, chunk: VerifiedChunk) -> None:
        """Run a verified chunk's transactions to our contracts again, in chain order."""
        for block in chunk.blocks:
            replay = ReplayBlock(
                block.number, block.timestamp, block.coinbase, block.prevrandao, block.gas_limit
            )
            for tx in block.txs:
                if tx.sender is None:
                    continue  # the walk names a transaction whose sender does not recover
                replay.txs.append(
                    ReplayTx(tx.hash, tx.sender, tx.to, tx.input, tx.value, tx.gas, tx.nonce,
                             tx.success, tx.created)
                )  # fmt: skip
            self.run(replay)

    def run(self, block: ReplayBlock) -> None:
        started = time.perf_counter()
        self._parsed = None
        self._block_env = pyrevm.BlockEnv(
            number=block.number,
            coinbase="0x" + block.coinbase.hex(),
            timestamp=block.timestamp,
            prevrandao=block.prevrandao,
            basefee=0,
            gas_limit=block.gas_limit or MAX_GAS,
        )
        self.evm.set_block_env(self._block_env)
        for tx in block.txs:
            self._run_tx(block.number, tx)
        self.history.append(block)
        self.blocks += 1
        self.next_block = block.number + 1
        self.seconds += time.perf_counter() - started

    def _run_tx(self, number: int, tx: ReplayTx) -> None:
        self.transactions += 1
        for address in self.ours if tx.to == self.contracts.get("forwarder") else (tx.to,):
            keys = self.keys.get(address) if address is not None else None
            if keys is not None:
                keys.add_calldata(tx.input)
                keys.add_address(tx.sender)
        sender = "0x" + tx.sender.hex()
        if tx.value:
            # The sender's ether is not replayed (fees are not modelled): give what it sends.
            self.evm.set_balance(sender, self.evm.get_balance(sender) + tx.value)
        ok = True
        if tx.to is None:
            # A creation's address comes from the sender's nonce: the chain's, not revm's.
            self.evm.insert_account_info(sender, pyrevm.AccountInfo(nonce=tx.nonce))
            try:
                made = hex_bytes(self.evm.deploy(sender, tx.input, tx.value or None, tx.gas))
            except RuntimeError:
                made, ok = None, False
            if ok and tx.created is not None and made != tx.created:
                self._find(
                    "reexec.creation", number, tx, tx.created, made, "created another address"
                )
        else:
            if tx.to not in self.ours:
                self.warnings.append(
                    AuditWarning("reexec", number, tx.hash, "reached our contracts through another "
                             "contract: not re-executed (the storage check says if it mattered)")
                )  # fmt: skip
                return
            before = self.evm.snapshot()
            ok = self._call(sender, tx)
            if ok == tx.success:
                self.evm.commit()
            else:
                # Perhaps only pyrevm's open journal (see the module's doc): run it again alone.
                self.evm.revert(before)
                self._afresh()
                ok = self._call(sender, tx)
        if ok != tx.success:
            self._find(
                "reexec.outcome",
                number,
                tx,
                "succeeded" if tx.success else "reverted",
                "succeeded" if ok else "reverted",
                "the chain's receipt and the re-execution disagree",
            )

    def _call(self, sender: str, tx: ReplayTx) -> bool:
        """Run a call; whether it succeeded (the ids its events carry become key guesses)."""
        assert tx.to is not None
        try:
            self.evm.message_call(sender, "0x" + tx.to.hex(), tx.input, tx.value or None, tx.gas)
        except RuntimeError:
            return False
        self._keys_from_logs()
        return True

    def _afresh(self) -> None:
        """Carry the state over into a new revm with an empty journal: every account in its
        database, every word of ours too, nothing warm, each word's value its original one."""
        state = self._state()
        fresh = self._new_evm()
        if self._block_env is not None:
            fresh.set_block_env(self._block_env)
        for account, info in {**self.evm.db_accounts, **self.evm.journal_state}.items():
            fresh.insert_account_info(account, info)
        for address, (words, cleared) in state.items():
            where = "0x" + address.hex()
            for slot, value in words.items():
                # Put in the database while the account is cold: the insert loads the account
                # into the journal, which the revert takes out again (the database keeps it).
                cold = fresh.snapshot()
                fresh.insert_account_storage(where, slot, value)
                fresh.revert(cold)
            self._base[address] = dict(words)
            self._cleared_before[address] = set(cleared)
        self.evm = fresh
        self._parsed = None

    def _keys_from_logs(self) -> None:
        """Ids a contract hands out itself (a batch's, a grant's) are in no calldata, but its
        events carry them: every word of its logs is a key guess for its mappings."""
        result = self.evm.result
        for log in result.logs if result is not None else ():
            keys = self.keys.get(hex_bytes(log.address))
            if keys is not None:
                topics, data = log.data
                keys.add_ids(topics[1:])
                keys.extend(data[i : i + 32] for i in range(0, len(data) - 31, 32))

    def _find(
        self, rule: str, number: int, tx: ReplayTx, expected: Any, found: Any, detail: str
    ) -> None:
        self.findings.append(
            Finding(rule, number, tx.hash, _render(expected), _render(found), detail)
        )

    def storage(self, address: bytes) -> dict[int, int]:
        """The contract's non-zero storage words as revm holds them now."""
        return self._state()[address][0]

    def cleared(self, address: bytes) -> set[int]:
        """The words a transaction wrote that are zero now."""
        return self._state()[address][1]

    def _state(self) -> dict[bytes, tuple[dict[int, int], set[int]]]:
        """Every contract's words, read from one rendering of revm's state (tens of MB for a
        large election: read once after each block run, not once per question)."""
        if self._parsed is not None:
            return self._parsed
        text = self.evm.journal_str
        journal = text.index("journal: [")
        ours = {a.hex(): a for a in self.ours}
        state = {a: (dict(self._base[a]), set(self._cleared_before[a])) for a in self.ours}
        for match in _ACCOUNT.finditer(text, 0, journal):
            address = ours.get(match.group(1)[2:].lower())
            if address is None:
                continue
            start = text.index("storage: {", match.end())
            end = text.index("}, status:", start)
            words = state[address][0]
            for slot in _SLOT.finditer(text, start, end):
                value = int(slot.group(2))
                if value:
                    words[int(slot.group(1))] = value
                else:
                    words.pop(int(slot.group(1)), None)
        for who, key in _CHANGE.findall(text, journal):
            address = ours.get(who[2:].lower())
            if address is not None:
                state[address][1].add(int(key))
        for words, written in state.values():
            written.difference_update(words)
        self._parsed = state
        return state

    def until(self, number: int) -> Replayer:
        """A fresh replay of the same blocks, up to and including block `number`."""
        again = Replayer(self.chain_id, self.contracts, self.spec)
        for block in self.history:
            if block.number > number:
                break
            again.run(block)
        return again

    def namer(self, contract: str, layout: dict[str, Any]) -> SlotNamer:
        """Names the contract's slots; kept, with what it hashed, for the next finding."""
        namer = self._namers.get(contract)
        if namer is None:
            namer = SlotNamer(layout, self.keys[self.contracts[contract]])
            self._namers[contract] = namer
        return namer

    def code_hash(self, address: bytes) -> bytes:
        return bytes(self.evm.basic("0x" + address.hex()).code_hash or keccak(b""))


def _render(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def storage_root(words: dict[int, int], cleared: Iterable[int] = ()) -> bytes:
    """The Merkle-Patricia root of a contract's storage: keccak(slot) -> rlp(value). Ethereum
    drops a word set to zero from the trie; anvil keeps it, as an empty value: `cleared` are
    the words to keep so (re-execution names them, the node does not)."""
    items = {keccak(s.to_bytes(32, "big")): rlp.encode(v) for s, v in words.items()}
    items.update({keccak(s.to_bytes(32, "big")): rlp.encode(b"") for s in cleared})
    return trie_root(items)


@dataclass
class StorageCheck:
    contract: str
    address: str
    ok: bool
    words: int
    expected_root: str
    proven_root: str
    code_ok: bool
    differing: list[dict[str, Any]] = field(default_factory=list)
    first_block: int | None = None  # the first block at which the two storages differ


def check_storage(
    replayer: Replayer,
    rpc: RpcClient,
    header: dict[str, Any],
    layouts: dict[str, Any] | None = None,
) -> tuple[list[StorageCheck], list[Finding], list[dict[str, str]]]:
    """Each contract's replayed storage and code against what the node proves at `header`;
    and the contracts it could not check, with why."""
    number = hex_int(header["number"])
    state_root = hex_bytes(header["stateRoot"])
    checks: list[StorageCheck] = []
    findings: list[Finding] = []
    skipped: list[dict[str, str]] = []
    for key, address in replayer.contracts.items():
        words = replayer.storage(address)
        expected = storage_root(words)
        proof, error = rpc.try_call("eth_getProof", ["0x" + address.hex(), [], hex(number)])
        if error is not None:
            # Nothing to compare with: the audit says so, and is not clean.
            skipped.append(
                {"check": "reexec.storage", "contract": key, "why": f"eth_getProof: {error}"}
            )
            continue
        try:
            account = verify_account(
                state_root, address, [hex_bytes(p) for p in proof["accountProof"]]
            )
        except (ProofError, KeyError, ValueError) as exc:
            # The node's state is not the state its block commits to (written without a block).
            findings.append(
                Finding(
                    "state.proof",
                    number,
                    None,
                    "a proof that verifies against the stateRoot",
                    str(exc),
                    f"{key}: the node's account proof does not verify; its storage and code "
                    "cannot be compared with re-execution",
                )
            )
            continue
        if expected != account.storage_root:
            # The node may keep words set back to zero in its trie (anvil does): the same
            # storage, counted its way, from what re-execution itself wrote.
            kept = storage_root(words, replayer.cleared(address))
            if kept == account.storage_root:
                expected = kept
        code_ok = replayer.code_hash(address) == account.code_hash
        check = StorageCheck(
            key,
            checksum_address(address),
            expected == account.storage_root and code_ok,
            len(words),
            "0x" + expected.hex(),
            "0x" + account.storage_root.hex(),
            code_ok,
        )
        checks.append(check)
        if not code_ok:
            findings.append(
                Finding(
                    "reexec.code",
                    number,
                    None,
                    "0x" + replayer.code_hash(address).hex(),
                    "0x" + account.code_hash.hex(),
                    f"{key}'s code is not what its re-executed deployment left",
                )
            )
        if expected != account.storage_root:
            first, bounded = first_divergence(replayer, rpc, address, number)
            check.first_block = first
            check.differing = _differing(rpc, number, address, account.storage_root, words)
            namer = replayer.namer(key, (layouts or {}).get(key) or {})
            for d in check.differing:
                d["variable"] = namer.name(int(d["slot"], 16))
            named = ", ".join(
                f"{d['variable']} (slot {d['slot']}): {d['expected']} != {d['found']}"
                for d in check.differing[:5]
            )
            since = f"from block {first}" if not bounded else f"by block {first} at the latest"
            findings.append(
                Finding(
                    "reexec.storage",
                    first,
                    None,
                    check.expected_root,
                    check.proven_root,
                    f"{key}'s storage is not what re-executing every transaction leaves, "
                    f"{since} (at block {number}"
                    + (f": {named})" if named else ": the node holds words no transaction wrote)"),
                )
            )
    return checks, findings, skipped


def _agrees(replayer: Replayer, rpc: RpcClient, address: bytes, number: int) -> bool | None:
    """Whether the contract's storage, replayed up to block `number`, is the storage proven at
    that block; None if the node no longer holds that block's state."""
    header = rpc.call("eth_getBlockByNumber", [hex(number), False])
    proof, error = rpc.try_call("eth_getProof", ["0x" + address.hex(), [], hex(number)])
    if header is None or error is not None:
        return None
    try:
        account = verify_account(
            hex_bytes(header["stateRoot"]), address, [hex_bytes(p) for p in proof["accountProof"]]
        )
    except (ProofError, KeyError, ValueError):
        return False
    replay = replayer.until(number)
    words = replay.storage(address)
    return account.storage_root in (
        storage_root(words),
        storage_root(words, replay.cleared(address)),
    )


def first_divergence(
    replayer: Replayer, rpc: RpcClient, address: bytes, number: int
) -> tuple[int, bool]:
    """The first block at which the replayed and the proven storage of `address` differ,
    knowing they differ at `number` (bisection: each probe replays up to its block). Where the
    node keeps no state of older blocks, the search stops there: (block, True) then means
    "by this block at the latest"."""
    first = replayer.history[0].number if replayer.history else number
    # Before the deployment there was nothing to differ: the search starts agreeing there.
    agree, differ, unknown = first - 1, number, False
    while differ - agree > 1:
        middle = (agree + differ) // 2
        verdict = _agrees(replayer, rpc, address, middle)
        if verdict is False:
            differ = middle
        else:
            # Agreeing, or pruned (and so is every older block): look later either way.
            agree, unknown = middle, verdict is None
    return differ, unknown


def _differing(
    rpc: RpcClient, number: int, address: bytes, root: bytes, words: dict[int, int]
) -> list[dict[str, Any]]:
    """The replayed words whose proven value differs (a word only the node holds shows only as
    a root that still differs when all of these agree)."""
    slots = sorted(words)
    out: list[dict[str, Any]] = []
    for start in range(0, len(slots), 256):
        chunk = slots[start : start + 256]
        proof = rpc.call(
            "eth_getProof",
            [
                "0x" + address.hex(),
                ["0x" + s.to_bytes(32, "big").hex() for s in chunk],
                hex(number),
            ],
        )
        for slot, item in zip(chunk, proof["storageProof"], strict=True):
            proven = verify_storage(root, slot, [hex_bytes(p) for p in item["proof"]])
            if proven != words[slot]:
                out.append({"slot": hex(slot), "expected": hex(words[slot]), "found": hex(proven)})
    return out
