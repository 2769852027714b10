"""A community's administrative acts, each said once: create a community, hand the admin role
over (propose / accept / cancel), grant and revoke roles, set the payout approval threshold,
the fund's currency and the time bank's limits, register or revoke an auditor's report key,
and the registrar's roll update.

Each act is built as an `AdminCall` (target contract, function, arguments, calldata, what it
does and who must sign). Before anything is signed, `preflight` checks what the contract will
check (the community exists, the signer holds the role or is the admin, the relay serves this
deployment) so a refusal is one sentence, then simulates the call (eth_call from the signer)
so any other refusal is named by the contract's custom error. `execute` then sends it: from the
signer's own account (`DirectSender`, through ledger.tx's send path), as an ERC-2771 request
through the API's relay (`RelaySender`: gasless for the signer), or through any other wallet
that can send a transaction (the brownie scripts), and reads what the chain recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import httpx
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.logs import DISCARD

from ledger.currency import is_currency_code
from ledger.deploy import Deployment
from ledger.errors import LedgerError, TxError, WrongChain
from ledger.hashing import checksum_address
from ledger.protocol.generated import ROLE_NAMES, Function, Functions, Roles
from ledger.signing.forwards import sign_forward_request
from ledger.tx import ErrorDecoder, revert_data, send

ZERO_ADDRESS = "0x" + "00" * 20
FORWARD_PATH = "/v1/forward"
NONCE_PATH = "/v1/forward/nonce/{address}"
RECEIPT_PATH = "/v1/receipts/{id}"
RELAY_TIMEOUT_S = 60.0
RELAY_POLL_S = 0.1
FORWARD_TTL_S = 3600
# A forwarded call gets the gas the simulation measured (a whole transaction's, so more than the
# call alone spends) plus a margin for state that changes before it runs; the forwarder's own
# work around the call is the relay's, not taken from this budget.
GAS_MARGIN = 1.25
GAS_FLOOR = 100_000
ROLES: dict[str, bytes] = {name: role for role, name in ROLE_NAMES.items()}


class AdminRefused(LedgerError):
    """The act would be refused by the contract (or cannot be sent): one sentence saying why."""


class RefusedByContract(AdminRefused):
    """The simulation reverted: `error` names the contract's custom error, `args_` its values."""

    def __init__(self, function: str, error: str, args: tuple[Any, ...], described: str) -> None:
        super().__init__(f"the contract would refuse {function}: {described}")
        self.error = error
        self.args_ = args


class Signer(Enum):
    """Who the contract lets make a call."""

    ANYONE = "anyone"
    ADMIN = "the admin"
    PENDING_ADMIN = "the pending admin"
    ROLE = "a holder of the role"
    KEY_AUDITOR_OR_ADMIN = "the key's auditor or its community's admin"


@dataclass(frozen=True)
class AdminCall:
    """One act, ready to check and send: `contract` is the deployment's key ("registry", "fund",
    "timebank", "council"); `args` are in the ABI's order; `event` is what the contract emits
    for it, and `matches` the values that event carries for this act and no other."""

    contract: str
    function: Function
    args: tuple[Any, ...]
    what: str
    signer: Signer
    event: str
    community: int | None = None
    role: bytes | None = None
    matches: tuple[tuple[str, Any], ...] = ()

    def bound(self, deployment: Deployment) -> ContractFunction:
        contract: Contract = deployment.contracts[self.contract]
        call: ContractFunction = contract.functions[self.function.name](*self.args)
        return call

    def calldata(self, deployment: Deployment) -> bytes:
        data = bytes(HexBytes(self.bound(deployment)._encode_transaction_data()))
        # The ABI and the protocol module come from the same build; a mismatch is a stale build.
        if data[:4] != self.function.selector:
            raise LedgerError(
                f"{self.function.signature}: the ABI's selector differs from ledger.protocol's; "
                "run `commons build`"
            )
        return data

    def who_signs(self) -> str:
        where = f" of community {self.community}" if self.community is not None else ""
        if self.signer is Signer.ROLE and self.role is not None:
            return f"a {role_name(self.role)}{where}"
        return f"{self.signer.value}{where}"

    def describe(self, deployment: Deployment) -> list[str]:
        """The call for people (what `--dry-run` prints)."""
        target = deployment.contracts[self.contract]
        inputs = self.bound(deployment).abi["inputs"]
        rendered = [f"{i['name']}={_plain(v)}" for i, v in zip(inputs, self.args, strict=True)]
        return [
            self.what,
            f"contract: {self.contract} {target.address}",
            f"function: {self.function.signature}",
            *(f"  {line}" for line in rendered),
            f"calldata: 0x{self.calldata(deployment).hex()}",
            f"must be signed by: {self.who_signs()}",
        ]


def _plain(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return str(value)


def role_name(role: bytes) -> str:
    return ROLE_NAMES.get(role, "0x" + role.hex())


def role_id(name: str) -> bytes:
    """A role by its name (COMMITTEE, REGISTRAR, ...) as the contracts declare it."""
    role = ROLES.get(name.upper())
    if role is None:
        raise AdminRefused(f"unknown role {name!r}: one of {', '.join(sorted(ROLES))}")
    return role


def currency_code(text: str) -> bytes:
    code = text.encode()
    if not is_currency_code(code):
        raise AdminRefused(f"{text!r} is not a currency code: three capital letters A-Z, e.g. CNY")
    return code


# --- the acts --------------------------------------------------------------------------------


def create_community(metadata_hash: bytes) -> AdminCall:
    return AdminCall(
        "registry",
        Functions.createCommunity,
        (metadata_hash,),
        f"create a community described by the text with hash 0x{metadata_hash.hex()}; "
        "the signer becomes its admin",
        Signer.ANYONE,
        "CommunityCreated",
    )


def transfer_admin(community: int, new_admin: str) -> AdminCall:
    new_admin = checksum_address(new_admin)
    return AdminCall(
        "registry",
        Functions.transferAdmin,
        (community, new_admin),
        f"offer the admin role of community {community} to {new_admin} (it moves when they accept)",
        Signer.ADMIN,
        "AdminTransferStarted",
        community,
    )


def accept_admin(community: int) -> AdminCall:
    return AdminCall(
        "registry",
        Functions.acceptAdmin,
        (community,),
        f"take the admin role of community {community} offered to the signer",
        Signer.PENDING_ADMIN,
        "AdminTransferred",
        community,
    )


def cancel_admin_transfer(community: int) -> AdminCall:
    return AdminCall(
        "registry",
        Functions.cancelAdminTransfer,
        (community,),
        f"withdraw the pending offer of community {community}'s admin role",
        Signer.ADMIN,
        "AdminTransferCancelled",
        community,
    )


def grant_role(community: int, role: bytes, account: str) -> AdminCall:
    account = checksum_address(account)
    return AdminCall(
        "registry",
        Functions.grantRole,
        (community, role, account),
        f"grant {role_name(role)} in community {community} to {account}",
        Signer.ADMIN,
        "RoleGranted",
        community,
        role,
    )


def revoke_role(community: int, role: bytes, account: str) -> AdminCall:
    account = checksum_address(account)
    return AdminCall(
        "registry",
        Functions.revokeRole,
        (community, role, account),
        f"revoke {role_name(role)} in community {community} from {account}",
        Signer.ADMIN,
        "RoleRevoked",
        community,
        role,
    )


def set_approval_threshold(community: int, threshold: int) -> AdminCall:
    return AdminCall(
        "fund",
        Functions.setApprovalThreshold,
        (community, threshold),
        f"require {threshold} committee approvals for each payout of community {community}",
        Signer.ADMIN,
        "ApprovalThresholdSet",
        community,
    )


def set_currency(community: int, code: bytes) -> AdminCall:
    return AdminCall(
        "fund",
        Functions.setCurrency,
        (community, code),
        f"keep community {community}'s fund in {code.decode()} (set once, for good)",
        Signer.ADMIN,
        "FundCurrencySet",
        community,
    )


def set_limits(community: int, floor: int, ceiling: int) -> AdminCall:
    return AdminCall(
        "timebank",
        Functions.setLimits,
        (community, floor, ceiling),
        f"let time-bank balances in community {community} range from {floor} to {ceiling} minutes",
        Signer.ADMIN,
        "LimitsSet",
        community,
    )


def register_auditor_key(community: int, key_fingerprint: bytes) -> AdminCall:
    return AdminCall(
        "registry",
        Functions.registerAuditorKey,
        (community, key_fingerprint),
        f"register the signer's audit report key 0x{key_fingerprint.hex()} in community "
        f"{community}",
        Signer.ROLE,
        "AuditorKeyRegistered",
        community,
        Roles.AUDITOR,
    )


def revoke_auditor_key(key_fingerprint: bytes) -> AdminCall:
    return AdminCall(
        "registry",
        Functions.revokeAuditorKey,
        (key_fingerprint,),
        f"revoke the audit report key 0x{key_fingerprint.hex()} for good",
        Signer.KEY_AUDITOR_OR_ADMIN,
        "AuditorKeyRevoked",
    )


def update_roll(
    community: int, added: Sequence[str], removed: Sequence[str], publish: bool
) -> AdminCall:
    added = [checksum_address(a) for a in added]
    removed = [checksum_address(a) for a in removed]
    then = "and publish the roll" if publish else "(staged, not yet in force)"
    return AdminCall(
        "registry",
        Functions.updateRoll,
        (community, added, removed, publish),
        f"add {len(added)} and remove {len(removed)} residents of community {community} {then}",
        Signer.ROLE,
        "RollPublished" if publish else "RollUpdated",
        community,
        Roles.REGISTRAR,
    )


def publish_roll(community: int) -> AdminCall:
    return AdminCall(
        "registry",
        Functions.publishRoll,
        (community,),
        f"put community {community}'s staged roll in force",
        Signer.ROLE,
        "RollPublished",
        community,
        Roles.REGISTRAR,
    )


# --- checking ---------------------------------------------------------------------------------


@dataclass
class AdminChain:
    """The chain and deployment the acts go to, with every contract's errors for decoding."""

    w3: Web3
    deployment: Deployment
    decoder: ErrorDecoder = field(init=False)

    def __post_init__(self) -> None:
        self.decoder = ErrorDecoder(c.abi for c in self.deployment.contracts.values())
        found = self.w3.eth.chain_id
        if found != self.deployment.chain_id:
            raise WrongChain(self.deployment.chain_id, found)

    @property
    def registry(self) -> Contract:
        return self.deployment.registry

    def admin_of(self, community: int) -> str:
        admin = self.registry.functions.communityAdmin(community).call()
        if int(admin, 16) == 0:
            count = self.registry.functions.communityCount().call()
            raise AdminRefused(f"there is no community {community} (communities: 1 to {count})")
        return checksum_address(admin)

    def view(self, contract: str, function: str, *args: Any) -> dict[str, Any]:
        """A view with several return values, by the ABI's names for them."""
        bound = self.deployment.contracts[contract].functions[function](*args)
        values = bound.call()
        names = [o["name"] for o in bound.abi["outputs"]]
        return dict(zip(names, values, strict=True))

    def has_role(self, community: int, role: bytes, account: str) -> bool:
        return bool(self.registry.functions.hasRole(community, role, account).call())


def preflight(chain: AdminChain, call: AdminCall, signer: str) -> int:
    """Refuse, in one sentence, what the contract would refuse; then simulate the call from
    `signer`. Returns the gas the simulation used."""
    signer = checksum_address(signer)
    _check_signer(chain, call, signer)
    _check_arguments(chain, call)
    return simulate(chain, call, signer)


def _check_signer(chain: AdminChain, call: AdminCall, signer: str) -> None:
    community = call.community
    if call.signer is Signer.KEY_AUDITOR_OR_ADMIN:
        _check_key_revoker(chain, call.args[0], signer)
    if community is None:
        return
    admin = chain.admin_of(community)  # also: the community exists
    if call.signer is Signer.ADMIN and signer != admin:
        raise AdminRefused(f"{signer} is not the admin of community {community} (it is {admin})")
    if call.signer is Signer.PENDING_ADMIN:
        pending = checksum_address(chain.registry.functions.pendingAdmin(community).call())
        if pending == ZERO_ADDRESS:
            raise AdminRefused(f"community {community} has no admin transfer pending")
        if signer != pending:
            raise AdminRefused(
                f"{signer} is not the pending admin of community {community} (it is {pending})"
            )
    role = call.role
    if (
        call.signer is Signer.ROLE
        and role is not None
        and not chain.has_role(community, role, signer)
    ):
        raise AdminRefused(f"{signer} does not hold {role_name(role)} in community {community}")


def _check_key_revoker(chain: AdminChain, key_fingerprint: bytes, signer: str) -> None:
    key = chain.view("registry", "auditorKey", key_fingerprint)
    auditor = checksum_address(key["auditor"])
    if auditor == ZERO_ADDRESS:
        raise AdminRefused(f"no auditor key 0x{key_fingerprint.hex()} is registered")
    if key["revokedAt"]:
        raise AdminRefused(
            f"auditor key 0x{key_fingerprint.hex()} was revoked in block {key['revokedAt']}"
        )
    admin = chain.admin_of(key["communityId"])
    if signer not in (auditor, admin):
        raise AdminRefused(
            f"{signer} is neither the key's auditor ({auditor}) nor the admin of community "
            f"{key['communityId']} ({admin})"
        )


def _check_arguments(chain: AdminChain, call: AdminCall) -> None:
    name, args = call.function.name, call.args
    if name in ("grantRole", "revokeRole"):
        community, role, account = args
        held = chain.has_role(community, role, account)
        if name == "grantRole" and held:
            raise AdminRefused(
                f"{account} already holds {role_name(role)} in community {community}"
            )
        if name == "revokeRole" and not held:
            raise AdminRefused(
                f"{account} does not hold {role_name(role)} in community {community}"
            )
    elif name == "transferAdmin" and int(args[1], 16) == 0:
        raise AdminRefused("the new admin cannot be the zero address")
    elif name == "cancelAdminTransfer":
        pending = checksum_address(chain.registry.functions.pendingAdmin(args[0]).call())
        if pending == ZERO_ADDRESS:
            raise AdminRefused(f"community {args[0]} has no admin transfer pending")
    elif name == "setApprovalThreshold":
        size = chain.registry.functions.committeeSize(args[0]).call()
        if not 1 <= args[1] <= size:
            raise AdminRefused(
                f"a threshold of {args[1]} needs between 1 and the committee's {size} members "
                f"(grant COMMITTEE first)"
            )
    elif name == "setCurrency":
        fund = chain.deployment.fund.functions.fundOf(args[0]).call()
        if fund.currency != b"\x00\x00\x00":
            raise AdminRefused(
                f"community {args[0]}'s fund is already kept in {fund.currency.decode()}; "
                "a currency is set once"
            )
    elif name == "setLimits" and (args[1] > 0 or args[2] < 0):
        raise AdminRefused(
            f"limits {args[1]}..{args[2]} must have a floor at most 0 and a ceiling at least 0"
        )


def simulate(chain: AdminChain, call: AdminCall, signer: str) -> int:
    """eth_estimateGas of the call from `signer` (what the contract sees as its sender, directly
    or through the forwarder): a revert raises RefusedByContract naming the custom error."""
    try:
        return int(
            chain.w3.eth.estimate_gas(
                {
                    "from": signer,
                    "to": chain.deployment.contracts[call.contract].address,
                    "data": HexBytes(call.calldata(chain.deployment)),
                }
            )
        )
    except (ContractCustomError, ContractLogicError, Web3RPCError) as exc:
        data = revert_data(exc)
        decoded = chain.decoder.decode(data) if data else None
        if decoded is None:
            raise TxError(f"{call.function.name} would fail: {exc}") from None
        described = chain.decoder.describe(*decoded)
        raise RefusedByContract(call.function.name, *decoded, described) from None


def community_summary(chain: AdminChain, community: int) -> list[str]:
    """A community's administrative state for people, read by name from the views."""
    registry, fund = chain.registry.functions, chain.deployment.fund.functions
    admin = chain.admin_of(community)
    pending = checksum_address(registry.pendingAdmin(community).call())
    roles = {name: registry.roleMemberCount(community, role).call() for name, role in ROLES.items()}
    money = fund.fundOf(community).call()
    limits = chain.view("timebank", "limitsOf", community)
    roll = chain.view("registry", "rollSnapshot", community)
    currency = money.currency.decode() if money.currency != b"\x00\x00\x00" else "not set"
    return [
        f"community {community}",
        f"  admin:      {admin}",
        f"  pending:    {pending if pending != ZERO_ADDRESS else 'none'}",
        "  roles:      " + ", ".join(f"{name} {count}" for name, count in sorted(roles.items())),
        f"  currency:   {currency}",
        f"  threshold:  {money.approvalThreshold or 'not set'}",
        f"  limits:     {limits['floor']}..{limits['ceiling']} minutes",
        f"  roll:       version {roll['version']}, {roll['size']} residents",
    ]


# Every event an administrative act emits, by the contract that emits it.
ADMIN_EVENTS: tuple[tuple[str, str], ...] = (
    ("registry", "CommunityCreated"),
    ("registry", "AdminTransferStarted"),
    ("registry", "AdminTransferCancelled"),
    ("registry", "AdminTransferred"),
    ("registry", "RoleGranted"),
    ("registry", "RoleRevoked"),
    ("registry", "AuditorKeyRegistered"),
    ("registry", "AuditorKeyRevoked"),
    ("registry", "RollPublished"),
    ("registry", "ResidentReplaced"),
    ("fund", "FundCurrencySet"),
    ("fund", "ApprovalThresholdSet"),
    ("timebank", "LimitsSet"),
    ("timebank", "BalanceCarriedOver"),
)


def community_history(chain: AdminChain, community: int) -> list[str]:
    """Every administrative act recorded for `community`, oldest first, one line each."""
    chain.admin_of(community)  # the community exists
    found: list[tuple[int, int, str]] = []
    for key, name in ADMIN_EVENTS:
        event = chain.deployment.contracts[key].events[name]()
        logs = event.get_logs(
            from_block=chain.deployment.start_block, argument_filters={"communityId": community}
        )
        order = [i["name"] for i in event.abi["inputs"] if i["name"] != "communityId"]
        for log in logs:
            args = ", ".join(f"{k}={_event_value(k, log['args'][k])}" for k in order)
            line = f"block {log['blockNumber']:>6}  {name}({args})"
            found.append((int(log["blockNumber"]), int(log["logIndex"]), line))
    return [line for _, _, line in sorted(found)]


def _event_value(name: str, value: Any) -> str:
    if name == "role" and isinstance(value, bytes):
        return role_name(value)
    if name == "currency" and isinstance(value, bytes):
        return value.decode(errors="replace")
    return _plain(value)


# --- sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """An act on-chain: its transaction, block and the event the contract emitted."""

    tx_hash: str
    block: int
    event: dict[str, Any]


class Sender(Protocol):
    address: str

    def submit(self, chain: AdminChain, call: AdminCall, gas: int) -> str:
        """Get the call mined; returns its transaction hash."""


class DirectSender:
    """A transaction from the signer's own account (it pays the gas)."""

    def __init__(self, account: LocalAccount) -> None:
        self.account = account
        self.address: str = account.address

    def submit(self, chain: AdminChain, call: AdminCall, gas: int) -> str:
        receipt = send(chain.w3, self.account, call.bound(chain.deployment), decoder=chain.decoder)
        return "0x" + bytes(receipt["transactionHash"]).hex()


class RelayApi:
    """The API's relay, over HTTP: what it serves, its nonces, requests and receipts."""

    def __init__(self, api_url: str, *, timeout: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def check_serves(self, chain: AdminChain) -> None:
        """The API relays for this very deployment (chain id and forwarder)."""
        served = self.get("/v1/chain")
        if served["chainId"] != chain.deployment.chain_id:
            raise AdminRefused(
                f"the API at {self.api_url} serves chain {served['chain_id']}, the node is "
                f"chain {chain.deployment.chain_id}"
            )
        forwarder = chain.deployment.forwarder.address
        if checksum_address(served["contracts"]["forwarder"]) != forwarder:
            raise AdminRefused(
                f"the API at {self.api_url} relays to another deployment (forwarder "
                f"{served['contracts']['forwarder']}, expected {forwarder})"
            )

    def wait(self, receipt_id: str) -> dict[str, Any]:
        """The receipt once counted or rejected."""
        deadline = time.monotonic() + RELAY_TIMEOUT_S
        while True:
            receipt = self.get(RECEIPT_PATH.format(id=receipt_id))
            if receipt["status"] in ("counted", "rejected"):
                return receipt
            if time.monotonic() > deadline:
                raise AdminRefused(
                    f"the relay still has receipt {receipt_id} {receipt['status']} after "
                    f"{RELAY_TIMEOUT_S:.0f}s; check it with GET {RECEIPT_PATH}"
                )
            time.sleep(RELAY_POLL_S)

    def get(self, path: str) -> dict[str, Any]:
        return self._answer(lambda c: c.get(path))

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._answer(lambda c: c.post(path, json=body))

    def _answer(self, request: Callable[[httpx.Client], httpx.Response]) -> dict[str, Any]:
        try:
            with httpx.Client(base_url=self.api_url, timeout=self.timeout) as client:
                response = request(client)
        except httpx.HTTPError as exc:
            raise AdminRefused(f"cannot reach the API at {self.api_url}: {exc}") from None
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {"detail": response.text[:200]}
        if response.status_code >= 400:
            code = body.get("code", f"HTTP {response.status_code}")
            raise AdminRefused(f"the API refused the request: {code}: {body.get('detail')}")
        return body


class RelaySender:
    """An ERC-2771 request signed by the signer and relayed by the API (the relayer pays)."""

    def __init__(self, account: LocalAccount, relay: RelayApi) -> None:
        self.account = account
        self.address: str = account.address
        self.relay = relay

    def submit(self, chain: AdminChain, call: AdminCall, gas: int) -> str:
        self.relay.check_serves(chain)
        nonce = int(self.relay.get(NONCE_PATH.format(address=self.address))["nonce"])
        deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + FORWARD_TTL_S
        request = sign_forward_request(
            chain.w3,
            chain.deployment.forwarder,
            self.account,
            call.bound(chain.deployment),
            gas=gas,
            nonce=nonce,
            deadline=deadline,
        )
        done = self.relay.wait(self.relay.post(FORWARD_PATH, request.to_payload())["id"])
        if done["status"] != "counted":
            raise AdminRefused(f"the relay did not execute {call.function.name}: {done['detail']}")
        return str(done["txHash"])


def execute(chain: AdminChain, call: AdminCall, sender: Sender) -> Done:
    """Check and simulate the call as `sender`, have it mined, and read its event."""
    gas = preflight(chain, call, sender.address)
    tx_hash = sender.submit(chain, call, max(GAS_FLOOR, int(gas * GAS_MARGIN)))
    return recorded(chain, call, tx_hash, sender.address)


def recorded(chain: AdminChain, call: AdminCall, tx_hash: str, signer: str) -> Done:
    """The event `call` emitted in transaction `tx_hash` (a relayed batch holds others' calls
    too: the signer's, in its community, is the one)."""
    receipt = chain.w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=60)
    if receipt["status"] != 1:
        raise TxError(f"transaction {tx_hash} reverted")
    contract = chain.deployment.contracts[call.contract]
    events = contract.events[call.event]().process_receipt(receipt, errors=DISCARD)
    mine = [dict(e["args"]) for e in events if _is_mine(dict(e["args"]), call, signer)]
    if not mine:
        raise AdminRefused(
            f"transaction {tx_hash} holds no {call.event} of this act: another request of the "
            "batch may have been the one executed; check the community's state"
        )
    return Done(tx_hash, int(receipt["blockNumber"]), mine[-1])


def _is_mine(args: dict[str, Any], call: AdminCall, signer: str) -> bool:
    if call.community is not None and args.get("communityId") != call.community:
        return False
    if any(args.get(name) != value for name, value in call.matches):
        return False
    signers = {checksum_address(v) for v in args.values() if isinstance(v, str) and len(v) == 42}
    return signer in signers or not signers
