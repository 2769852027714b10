// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {LowLevelCall} from "@openzeppelin/contracts/utils/LowLevelCall.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IRegistryView} from "./interfaces/IRegistryView.sol";
import {ITimeBank} from "./interfaces/ITimeBank.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";

/// @title TimeBank
/// @notice Minute balances of each community's residents, moved only by service records that
/// both sides signed. See ITimeBank.
/// @dev Built for batches of relayed records (target: at most 20,000 gas per record). Per record
/// the happy path allocates no memory and writes two storage slots, one per side, each holding
/// that account's balance, its replay window and the roll version at which the member was last
/// found resident. That stamp saves the Registry read: a member stamped with the roll's current
/// version is on the roll (a published version never changes; staged changes take effect only
/// by publishing the next one), so the Registry is asked only about members not seen since the
/// last publication. Each call also writes one word, whatever its size: its batch commitment
/// (the hash of the ids it recorded, which reversals prove against). The error
/// path may be slow: it ABI-encodes the broken rule.
contract TimeBank is ITimeBank, ERC2771Context, EIP712 {
    bytes32 private constant COORDINATOR = keccak256("COORDINATOR");
    bytes32 private constant REGISTRAR = keccak256("REGISTRAR");
    bytes32 private constant SERVICE_TYPEHASH = keccak256(
        "ServiceRecord(uint256 communityId,address provider,address recipient,uint32 minutesServed,bytes8 category,bytes32 noteHash,uint256 nonce)"
    );
    bytes32 private constant REVERSAL_TYPEHASH = keccak256("ServiceReversal(bytes32 recordId,bytes32 reasonHash)");
    int64 private constant DEFAULT_FLOOR = -600;
    int64 private constant DEFAULT_CEILING = 6000;
    uint256 private constant WINDOW = 128;
    uint256 private constant WINDOW_MASK = (1 << 128) - 1;
    uint256 private constant REPLAY_MASK = (1 << 160) - 1;
    uint256 private constant STAMP_SHIFT = 160;
    uint256 private constant BALANCE_SHIFT = 192;
    uint256 private constant BELOW_BALANCE = (1 << 192) - 1;
    // nonceBase is 32 bits wide: nonces stay below 2^32 - 1, so the base never outgrows it.
    uint256 private constant NONCE_LIMIT = (1 << 32) - 1;
    // The stamp of a retired account: no roll version ever reaches it, so the batch fast path
    // always asks the Registry about it, which has the replaced key off the roll for good.
    uint256 private constant RETIRED = type(uint32).max;
    // _batchContext's memory block (byte offsets), read by the batch fast path. HASH holds the
    // record's struct hash preimage (type hash, community, then the record's six words), DIGEST
    // the EIP-712 digest's (0x1901, domain separator, struct hash): both keep their fixed part
    // across a batch. BUF is scratch for ecrecover, the Registry call and the event's data.
    uint256 private constant CTX_ACCOUNTS = 0x00;
    uint256 private constant CTX_COMMUNITY = 0x20;
    uint256 private constant CTX_FLOOR = 0x40;
    uint256 private constant CTX_CEILING = 0x60;
    uint256 private constant CTX_VERSION = 0x80;
    uint256 private constant CTX_REGISTRY = 0xa0;
    uint256 private constant CTX_TOPIC = 0xc0;
    uint256 private constant CTX_IS_RESIDENT = 0xe0;
    uint256 private constant CTX_HASH = 0x100;
    uint256 private constant CTX_DIGEST = 0x200;
    uint256 private constant CTX_BUF = 0x260;
    // Where the next recorded record's id goes; the ids of the call's recorded records, in
    // order, follow the block (one word per record of the call), for the batch commitment.
    uint256 private constant CTX_IDS = 0x2e0;
    uint256 private constant CTX_SIZE = 0x300;
    uint256 private constant RECORD_SIZE = 0x140;

    /// @inheritdoc ITimeBank
    address public constant COMMUNITY_ACCOUNT = address(0);

    struct Limits {
        int64 floor;
        int64 ceiling;
        bool set;
    }

    IRegistryView private immutable _registry;

    mapping(uint256 communityId => Limits) private _limits;
    /// @dev One word per account: balance (int64, bits 192..255), the roll version at which the
    /// member was last found resident (uint32, bits 160..191; 0 for the community's account),
    /// nonceBase (uint32, bits 128..159) and the window of the next 128 nonces (bits 0..127).
    mapping(uint256 communityId => mapping(address account => uint256)) private _accounts;
    mapping(uint256 communityId => mapping(address provider => mapping(uint256 word => uint256))) private _reversed;
    /// @dev One word per recording call: keccak256 of the ids it recorded, in order (see
    /// ServiceBatchCommitted). What lets a reversal prove its original was recorded as it is.
    mapping(uint256 batchId => bytes32 root) private _batchRoots;
    uint256 private _batchCount;

    /// @notice Wires the time bank to its forwarder and to the Registry it reads rolls and roles from.
    /// @param trustedForwarder The ERC-2771 forwarder allowed to relay signed requests.
    /// @param registry_ The Registry holding communities, roles and rolls.
    constructor(address trustedForwarder, address registry_)
        ERC2771Context(trustedForwarder)
        EIP712("CommonsTimeBank", "1")
    {
        _registry = IRegistryView(registry_);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc ITimeBank
    function setLimits(uint256 communityId, int64 floor, int64 ceiling) external {
        address sender = _msgSender();
        if (sender == address(0) || _registry.communityAdmin(communityId) != sender) {
            revert NotCommunityAdmin(communityId, sender);
        }
        if (floor > 0 || ceiling < 0) revert InvalidLimits(floor, ceiling);
        _limits[communityId] = Limits({floor: floor, ceiling: ceiling, set: true});
        emit LimitsSet(communityId, floor, ceiling, sender);
    }

    // ---------------------------------------------------------------- records

    /// @inheritdoc ITimeBank
    function recordService(uint256 communityId, SignedRecord calldata item) external returns (bytes32 recordId) {
        uint256 ctx = _batchContext(communityId, 1);
        if (_fastRun(ctx, item, 1) == 0) _revertWith(_slowRecord(ctx, item));
        _commitBatch(ctx);
        return _recordId(communityId, item.record);
    }

    /// @inheritdoc ITimeBank
    function recordServices(uint256 communityId, SignedRecord[] calldata items) external returns (uint256 recorded) {
        uint256 n = items.length;
        uint256 ctx = _batchContext(communityId, n);
        uint256 i = 0;
        while (i < n) {
            // The fast path takes records until one it cannot show valid; the slow path judges that one.
            uint256 taken = _fastRun(ctx, items[i], n - i);
            recorded += taken;
            i += taken;
            if (i == n) break;
            SignedRecord calldata item = items[i];
            bytes memory err = _slowRecord(ctx, item);
            if (err.length == 0) {
                ++recorded;
            } else {
                ServiceRecord calldata rec = item.record;
                emit ServiceSkipped(communityId, _recordId(communityId, rec), rec.provider, rec.nonce, err);
            }
            ++i;
        }
        _commitBatch(ctx);
    }

    /// @inheritdoc ITimeBank
    function reverseService(
        uint256 communityId,
        ServiceRecord calldata original,
        BatchProof calldata proof,
        bytes32 reasonHash,
        Signature calldata providerSig,
        Signature calldata recipientSig
    ) external {
        bytes32 recordId = _recordId(communityId, original);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(REVERSAL_TYPEHASH, recordId, reasonHash)));
        address provider = original.provider;
        address recipient = original.recipient;
        // Members on the roll now, as for a record: nobody off the roll moves minutes.
        _revertWith(_checkSide(communityId, provider, recipient, digest, providerSig.r, providerSig.vs, true));
        _revertWith(_checkSide(communityId, recipient, provider, digest, recipientSig.r, recipientSig.vs, true));
        if (!_isRecorded(_accounts[communityId][provider], original.nonce)) {
            revert RecordNotFound(communityId, provider, original.nonce);
        }
        // (provider, nonce) alone does not say what was recorded under it: the batch does.
        _requireCommitted(communityId, recordId, proof);
        _markReversed(communityId, provider, original.nonce, recordId);
        (int256 floor, int256 ceiling) = _limitsOf(communityId);
        // A reversal is the original with the sides swapped: the original provider pays back.
        _revertWith(_move(communityId, recipient, provider, original.minutesServed, floor, ceiling, 0));
        emit ServiceReversed(communityId, provider, recipient, recordId, original.minutesServed, reasonHash);
    }

    // ---------------------------------------------------------------- key rotation

    /// @inheritdoc ITimeBank
    function carryOver(uint256 communityId, address oldAccount) external returns (int256 minutesMoved) {
        address sender = _msgSender();
        if (!_registry.hasRole(communityId, REGISTRAR, sender)) revert NotRegistrar(communityId, sender);
        address newAccount = _registry.newKeyOf(communityId, oldAccount);
        if (newAccount == address(0)) revert RotationNotRecorded(communityId, oldAccount);
        mapping(address => uint256) storage accounts = _accounts[communityId];
        uint256 oldWord = accounts[oldAccount];
        if (_isRetiredWord(oldWord)) revert AlreadyCarriedOver(communityId, oldAccount, newAccount);
        // The account word is read and written by hand here: another caller of _balance and
        // _withBalance changes how the optimizer inlines them: reverseService cost 91,018 gas
        // that way against 90,952 (bench/gas_fund.py).
        minutesMoved = int64(uint64(oldWord >> BALANCE_SHIFT));
        uint256 newWord = accounts[newAccount];
        int256 total = int64(uint64(newWord >> BALANCE_SHIFT)) + minutesMoved;
        if (total > type(int64).max) {
            revert AboveCeiling(communityId, newAccount, total, type(int64).max);
        }
        if (total < type(int64).min) revert BelowFloor(communityId, newAccount, total, type(int64).min);

        // The old word keeps its replay state (nothing it signed can be replayed), its balance
        // zeroed and its stamp retired.
        accounts[oldAccount] = (oldWord & REPLAY_MASK) | (RETIRED << STAMP_SHIFT);
        accounts[newAccount] = (newWord & BELOW_BALANCE) | (uint256(uint64(int64(total))) << BALANCE_SHIFT);
        emit BalanceCarriedOver(communityId, oldAccount, newAccount, minutesMoved, sender);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ITimeBank
    function isRetired(uint256 communityId, address account) external view returns (bool) {
        return _isRetiredWord(_accounts[communityId][account]);
    }

    /// @inheritdoc ITimeBank
    function balanceOf(uint256 communityId, address account) external view returns (int256) {
        return _balance(_accounts[communityId][account]);
    }

    /// @inheritdoc ITimeBank
    function limitsOf(uint256 communityId) external view returns (int256 floor, int256 ceiling) {
        return _limitsOf(communityId);
    }

    /// @inheritdoc ITimeBank
    function isRecorded(uint256 communityId, address provider, uint256 nonce) external view returns (bool) {
        return _isRecorded(_accounts[communityId][provider], nonce);
    }

    /// @inheritdoc ITimeBank
    function nonceState(uint256 communityId, address provider)
        external
        view
        returns (uint256 nonceBase, uint256 window)
    {
        uint256 account = _accounts[communityId][provider];
        return (_nonceBase(account), account & WINDOW_MASK);
    }

    /// @inheritdoc ITimeBank
    function isReversed(uint256 communityId, address provider, uint256 nonce) external view returns (bool) {
        return _reversed[communityId][provider][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc ITimeBank
    function recordIdOf(uint256 communityId, ServiceRecord calldata record) external pure returns (bytes32) {
        return _recordId(communityId, record);
    }

    /// @inheritdoc ITimeBank
    function serviceDigest(uint256 communityId, ServiceRecord calldata record) external view returns (bytes32) {
        return _hashTypedDataV4(_recordId(communityId, record));
    }

    /// @inheritdoc ITimeBank
    function batchRoot(uint256 batchId) external view returns (bytes32) {
        return _batchRoots[batchId];
    }

    /// @inheritdoc ITimeBank
    function batchCount() external view returns (uint256) {
        return _batchCount;
    }

    /// @inheritdoc ITimeBank
    function reversalDigest(bytes32 recordId, bytes32 reasonHash) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(REVERSAL_TYPEHASH, recordId, reasonHash)));
    }

    /// @notice The Registry this time bank reads rolls and roles from.
    function registry() external view returns (address) {
        return address(_registry);
    }

    // ---------------------------------------------------------------- checks

    /// @dev Judges a record `_fastRun` did not take and, if every rule holds after all, records
    /// it; returns the ABI-encoded error of the first broken rule, or empty.
    function _slowRecord(uint256 ctx, SignedRecord calldata item) private returns (bytes memory err) {
        (uint256 communityId, int256 floor, int256 ceiling, uint256 version) = _contextValues(ctx);
        err = _verify(communityId, item);
        if (err.length == 0) err = _apply(communityId, item.record, floor, ceiling, version);
        if (err.length == 0) _pushRecordId(ctx, _recordId(communityId, item.record));
    }

    /// @dev Appends a recorded record's id to the call's list (as `_fastRun`'s settle does).
    function _pushRecordId(uint256 ctx, bytes32 recordId) private pure {
        assembly ("memory-safe") {
            let next := mload(add(ctx, CTX_IDS))
            mstore(next, recordId)
            mstore(add(ctx, CTX_IDS), add(next, 0x20))
        }
    }

    /// @dev Commits the ids the call recorded, in order, as the next batch: one storage word per
    /// call, whatever its size. A call that recorded nothing commits nothing.
    function _commitBatch(uint256 ctx) private {
        uint256 communityId;
        uint256 count;
        bytes32 root;
        assembly ("memory-safe") {
            communityId := mload(add(ctx, CTX_COMMUNITY))
            let start := add(ctx, CTX_SIZE)
            let size := sub(mload(add(ctx, CTX_IDS)), start)
            count := shr(5, size)
            root := keccak256(start, size)
        }
        if (count == 0) return;
        uint256 batchId = _batchCount + 1;
        _batchCount = batchId;
        _batchRoots[batchId] = root;
        emit ServiceBatchCommitted(communityId, batchId, root, count);
    }

    /// @dev Reverts unless `proof.recordIds` hash to batch `proof.batchId`'s root and hold
    /// `recordId` at `proof.index`.
    function _requireCommitted(uint256 communityId, bytes32 recordId, BatchProof calldata proof) private view {
        bytes32 root = _batchRoots[proof.batchId];
        bytes32 given = keccak256(abi.encodePacked(proof.recordIds));
        if (root == bytes32(0) || given != root) revert BatchRootMismatch(proof.batchId, root, given);
        if (proof.index >= proof.recordIds.length || proof.recordIds[proof.index] != recordId) {
            revert RecordNotInBatch(communityId, recordId, proof.batchId, proof.index);
        }
    }

    /// @dev The record's shape and both sides' signatures (and the members' residency). Returns
    /// the ABI-encoded error of the first broken rule; empty (the zero slot, no allocation) if none.
    function _verify(uint256 communityId, SignedRecord calldata item)
        private
        view
        returns (bytes memory err)
    {
        ServiceRecord calldata rec = item.record;
        address provider = rec.provider;
        address recipient = rec.recipient;
        if (rec.minutesServed == 0) return abi.encodeWithSelector(ZeroMinutes.selector);
        if (provider == recipient) return abi.encodeWithSelector(SameParty.selector, provider);
        bytes32 digest = _hashTypedDataV4(_recordId(communityId, rec));
        err = _checkSide(communityId, provider, recipient, digest, item.providerSig.r, item.providerSig.vs, true);
        if (err.length == 0) {
            err = _checkSide(communityId, recipient, provider, digest, item.recipientSig.r, item.recipientSig.vs, true);
        }
    }

    /// @dev What every record of a call shares, laid out once in memory for `_fastRun` (see the
    /// CTX_ offsets): the community's account mapping base slot, the community, its limits, the
    /// roll's published version, the Registry and what to call on it, ServiceRecorded's topic,
    /// and the fixed parts of the hashes every record takes.
    function _batchContext(uint256 communityId, uint256 records) private view returns (uint256 ctx) {
        (int256 floor, int256 ceiling) = _limitsOf(communityId);
        uint256 version = _rollVersion(communityId);
        bytes32 domainSeparator = _domainSeparatorV4();
        address registry_ = address(_registry);
        bytes32 typehash = SERVICE_TYPEHASH;
        bytes32 topic = ServiceRecorded.selector;
        bytes4 isResident = IRegistryView.isResident.selector;
        assembly ("memory-safe") {
            ctx := mload(0x40)
            mstore(0x40, add(add(ctx, CTX_SIZE), shl(5, records)))
            mstore(add(ctx, CTX_IDS), add(ctx, CTX_SIZE))
            mstore(0x00, communityId)
            mstore(0x20, _accounts.slot)
            mstore(add(ctx, CTX_ACCOUNTS), keccak256(0x00, 0x40))
            mstore(add(ctx, CTX_COMMUNITY), communityId)
            mstore(add(ctx, CTX_FLOOR), floor)
            mstore(add(ctx, CTX_CEILING), ceiling)
            mstore(add(ctx, CTX_VERSION), version)
            mstore(add(ctx, CTX_REGISTRY), registry_)
            mstore(add(ctx, CTX_TOPIC), topic)
            mstore(add(ctx, CTX_IS_RESIDENT), isResident)
            mstore(add(ctx, CTX_HASH), typehash)
            mstore(add(ctx, add(CTX_HASH, 0x20)), communityId)
            mstore(add(ctx, CTX_DIGEST), shl(240, 0x1901))
            mstore(add(ctx, add(CTX_DIGEST, 0x02)), domainSeparator)
        }
    }

    /// @dev The context's community, limits and roll version, for the slow path.
    function _contextValues(uint256 ctx)
        private
        pure
        returns (uint256 communityId, int256 floor, int256 ceiling, uint256 version)
    {
        assembly ("memory-safe") {
            communityId := mload(add(ctx, CTX_COMMUNITY))
            floor := mload(add(ctx, CTX_FLOOR))
            ceiling := mload(add(ctx, CTX_CEILING))
            version := mload(add(ctx, CTX_VERSION))
        }
    }

    /// @dev Records, from the `count` records starting at `first` in calldata, as many in a row
    /// as it can show valid the common way, and returns how many: `_verify` and `_apply` in one
    /// pass without Solidity's calling and decoding overhead (which cost up to 9,100 gas more a
    /// record: bench/gas_fund.py). The common way: two members (not the community's account),
    /// both signatures theirs, both on the roll (from the stamps; the Registry only for a side
    /// not stamped with the roll's current version), a fresh nonce in the window, both balances
    /// within the limits. A record is written (both account words, stamping both sides), its
    /// ServiceRecorded emitted and its id appended to the call's list (as `_slowRecord` appends
    /// what it records) only if every check passes; the first it cannot show valid is left
    /// untouched for the slow path to judge (it may still be valid). Before the first
    /// publication (version 0) nobody is resident, and the zero stamp of an untouched account
    /// must not pass for one: version 0 takes nothing.
    function _fastRun(uint256 ctx, SignedRecord calldata first, uint256 count) private returns (uint256 taken) {
        assembly ("memory-safe") {
            // Whether `who` signed the digest at `buf` with the EIP-2098 signature at calldata
            // `sig` (low s only); the digest stays in place for the next signature.
            function signs(buf, sig, who) -> yes {
                let vs := calldataload(add(sig, 0x20))
                let s := and(vs, 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff)
                mstore(add(buf, 0x20), add(shr(255, vs), 27))
                mstore(add(buf, 0x40), calldataload(sig))
                mstore(add(buf, 0x60), s)
                mstore(0x00, 0)
                // The precompile returns nothing for an invalid signature: 0x00 then stays zero.
                pop(staticcall(gas(), 0x01, buf, 0x80, 0x00, 0x20))
                yes := and(eq(mload(0x00), who), iszero(gt(s, HALF_N)))
            }
            // Whether the Registry has `who` on the community's roll (asked only of a member whose
            // account word is not stamped with the roll's current version).
            function onRoll(ctx_, who) -> yes {
                let buf := add(ctx_, CTX_BUF)
                mstore(buf, mload(add(ctx_, CTX_IS_RESIDENT)))
                mstore(add(buf, 0x04), mload(add(ctx_, CTX_COMMUNITY)))
                mstore(add(buf, 0x24), who)
                if iszero(staticcall(gas(), mload(add(ctx_, CTX_REGISTRY)), buf, 0x44, 0x00, 0x20)) {
                    returndatacopy(buf, 0, returndatasize())
                    revert(buf, returndatasize())
                }
                yes := and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1))
            }

            // SignedRecord is static: provider, recipient, minutes, category, noteHash, nonce,
            // providerSig.r, providerSig.vs, recipientSig.r, recipientSig.vs (one word each). The
            // minutes and nonce words are not validated by the ABI decoder here: bound them.
            function verify(ctx_, rec) -> yes {
                let provider := calldataload(rec)
                let recipient := calldataload(add(rec, 0x20))
                let mins := calldataload(add(rec, 0x40))
                yes := and(iszero(eq(provider, recipient)), and(iszero(iszero(provider)), iszero(iszero(recipient))))
                yes := and(yes, and(and(iszero(iszero(mins)), lt(mins, shl(32, 1))),
                    lt(calldataload(add(rec, 0xa0)), NONCE_LIMIT)))
                if yes {
                    let hashed := add(ctx_, CTX_HASH)
                    calldatacopy(add(hashed, 0x40), rec, 0xc0)
                    let digested := add(ctx_, CTX_DIGEST)
                    mstore(add(digested, 0x22), keccak256(hashed, 0x100))
                    let buf := add(ctx_, CTX_BUF)
                    mstore(buf, keccak256(digested, 0x42))
                    yes := signs(buf, add(rec, 0xc0), provider)
                    if yes { yes := signs(buf, add(rec, 0x100), recipient) }
                }
            }
            // Residency, replay window and limits from the two account words; if all hold, the
            // writes and the event.
            function settle(ctx_, rec) -> yes {
                mstore(0x20, mload(add(ctx_, CTX_ACCOUNTS)))
                mstore(0x00, calldataload(rec))
                let providerSlot := keccak256(0x00, 0x40)
                mstore(0x00, calldataload(add(rec, 0x20)))
                let recipientSlot := keccak256(0x00, 0x40)
                let p := sload(providerSlot)
                let r := sload(recipientSlot)
                let version := mload(add(ctx_, CTX_VERSION))
                yes := eq(and(shr(STAMP_SHIFT, p), 0xffffffff), version)
                if iszero(yes) { yes := onRoll(ctx_, calldataload(rec)) }
                if and(yes, iszero(eq(and(shr(STAMP_SHIFT, r), 0xffffffff), version))) {
                    yes := onRoll(ctx_, calldataload(add(rec, 0x20)))
                }
                let base := and(shr(128, p), 0xffffffff)
                // 1 << (nonce - base); a nonce below the base wraps around to a huge shift (0).
                let bit := shl(sub(calldataload(add(rec, 0xa0)), base), 1)
                // The bit must fall in the window (offset < 128) on a nonce not yet recorded.
                yes := and(yes, and(iszero(iszero(and(bit, WINDOW_MASK))), iszero(and(p, bit))))
                let providerBalance := add(signextend(7, shr(BALANCE_SHIFT, p)), calldataload(add(rec, 0x40)))
                let recipientBalance := sub(signextend(7, shr(BALANCE_SHIFT, r)), calldataload(add(rec, 0x40)))
                yes := and(yes, and(iszero(sgt(providerBalance, mload(add(ctx_, CTX_CEILING)))),
                    iszero(slt(recipientBalance, mload(add(ctx_, CTX_FLOOR))))))
                if yes {
                    let stamp := shl(STAMP_SHIFT, version)
                    // Balances are within int64 (the limits are int64): their low 64 bits are exact.
                    sstore(recipientSlot, or(and(r, REPLAY_MASK), or(stamp, shl(BALANCE_SHIFT, recipientBalance))))
                    // Slide the window past the recorded nonces at its bottom (see _advance).
                    let window := or(and(p, WINDOW_MASK), bit)
                    for {} and(window, 1) {} {
                        window := shr(1, window)
                        base := add(base, 1)
                    }
                    sstore(providerSlot, or(or(shl(BALANCE_SHIFT, providerBalance), stamp),
                        or(shl(128, base), window)))
                    // ServiceRecorded's data is minutes, category, noteHash, nonce: contiguous in calldata.
                    let buf := add(ctx_, CTX_BUF)
                    calldatacopy(buf, add(rec, 0x40), 0x80)
                    log4(buf, 0x80, mload(add(ctx_, CTX_TOPIC)), mload(add(ctx_, CTX_COMMUNITY)),
                        calldataload(rec), calldataload(add(rec, 0x20)))
                    // The record's id (verify left it in the digest's preimage) joins the call's list.
                    let ids := mload(add(ctx_, CTX_IDS))
                    mstore(ids, mload(add(ctx_, add(CTX_DIGEST, 0x22))))
                    mstore(add(ctx_, CTX_IDS), add(ids, 0x20))
                }
            }

            // Version 0: nothing published, nobody resident; the slow path says so.
            if iszero(mload(add(ctx, CTX_VERSION))) { count := 0 }
            let rec := first
            for {} lt(taken, count) {} {
                if iszero(verify(ctx, rec)) { break }
                if iszero(settle(ctx, rec)) { break }
                taken := add(taken, 1)
                rec := add(rec, RECORD_SIZE)
            }
        }
    }

    /// @dev One side's signature: the member themself (on the roll, if `requireResident`), or for
    /// the community's side a coordinator who is not the other party.
    function _checkSide(
        uint256 communityId,
        address party,
        address other,
        bytes32 digest,
        bytes32 r,
        bytes32 vs,
        bool requireResident
    ) private view returns (bytes memory err) {
        // address(0) for an invalid or high-s signature: never a member, and refused for the community.
        (address signer,,) = ECDSA.tryRecover(digest, r, vs);
        if (party == COMMUNITY_ACCOUNT) {
            if (signer == address(0) || !_registry.hasRole(communityId, COORDINATOR, signer)) {
                return abi.encodeWithSelector(NotCoordinator.selector, communityId, signer);
            }
            if (signer == other) return abi.encodeWithSelector(CoordinatorIsParty.selector, communityId, signer);
            return err;
        }
        if (signer != party) return abi.encodeWithSelector(WrongSigner.selector, party, signer);
        if (requireResident && !_registry.isResident(communityId, party)) {
            // Only on the way to a refusal: a replaced key is named as such.
            address replacement = _registry.newKeyOf(communityId, party);
            if (replacement != address(0)) {
                return abi.encodeWithSelector(KeyRetired.selector, communityId, party, replacement);
            }
            return abi.encodeWithSelector(NotResident.selector, communityId, party);
        }
    }

    // ---------------------------------------------------------------- effects

    /// @dev Replay check, limits, then the writes (stamping each member side with the roll
    /// `version` its residency was checked at) and the event; writes nothing if a rule breaks.
    function _apply(uint256 communityId, ServiceRecord calldata rec, int256 floor, int256 ceiling, uint256 version)
        private
        returns (bytes memory err)
    {
        address provider = rec.provider;
        uint256 nonce = rec.nonce;
        uint256 account = _accounts[communityId][provider];
        uint256 base = _nonceBase(account);
        if (nonce < base) return abi.encodeWithSelector(NonceAlreadyUsed.selector, communityId, provider, nonce);
        if (nonce - base >= WINDOW || nonce >= NONCE_LIMIT) {
            return abi.encodeWithSelector(NonceTooFarAhead.selector, communityId, provider, nonce, base);
        }
        uint256 bit = 1 << (nonce - base);
        if (account & bit != 0) return abi.encodeWithSelector(NonceAlreadyUsed.selector, communityId, provider, nonce);

        err = _move(communityId, provider, rec.recipient, rec.minutesServed, floor, ceiling, bit);
        if (err.length != 0) return err;
        _stamp(communityId, provider, version);
        _stamp(communityId, rec.recipient, version);
        emit ServiceRecorded(
            communityId, provider, rec.recipient, rec.minutesServed, rec.category, rec.noteHash, nonce
        );
    }

    /// @dev Moves `minutesServed` from `debtor` to `creditor` if both stay within the limits, and
    /// marks `creditorNonceBit` (0: none) in the creditor's window; otherwise writes nothing and
    /// returns the error. Only the side moving away from zero can cross a limit; the community's
    /// own account is bounded by the int64 range only.
    function _move(
        uint256 communityId,
        address creditor,
        address debtor,
        uint32 minutesServed,
        int256 floor,
        int256 ceiling,
        uint256 creditorNonceBit
    ) private returns (bytes memory err) {
        mapping(address => uint256) storage accounts = _accounts[communityId];
        int256 mins = int256(uint256(minutesServed));
        uint256 credited;
        (credited, err) = _credit(communityId, accounts, creditor, mins, ceiling);
        if (err.length != 0) return err;
        uint256 debited;
        (debited, err) = _debit(communityId, accounts, debtor, mins, floor);
        if (err.length != 0) return err;
        if (creditorNonceBit != 0) credited = _advance(credited, creditorNonceBit);
        accounts[creditor] = credited;
        accounts[debtor] = debited;
    }

    /// @dev `account`'s word with `mins` added to its balance, or the AboveCeiling error.
    function _credit(
        uint256 communityId,
        mapping(address => uint256) storage accounts,
        address account,
        int256 mins,
        int256 ceiling
    ) private view returns (uint256 word, bytes memory err) {
        word = accounts[account];
        int256 balance = _balance(word) + mins;
        int256 max = account == COMMUNITY_ACCOUNT ? int256(type(int64).max) : ceiling;
        if (balance > max) {
            return (word, abi.encodeWithSelector(AboveCeiling.selector, communityId, account, balance, max));
        }
        word = _withBalance(word, balance);
    }

    /// @dev `account`'s word with `mins` taken from its balance, or the BelowFloor error.
    function _debit(
        uint256 communityId,
        mapping(address => uint256) storage accounts,
        address account,
        int256 mins,
        int256 floor
    ) private view returns (uint256 word, bytes memory err) {
        word = accounts[account];
        int256 balance = _balance(word) - mins;
        int256 min = account == COMMUNITY_ACCOUNT ? int256(type(int64).min) : floor;
        if (balance < min) {
            return (word, abi.encodeWithSelector(BelowFloor.selector, communityId, account, balance, min));
        }
        word = _withBalance(word, balance);
    }

    /// @dev Sets the reversed bit of a not yet reversed (community, provider, nonce).
    function _markReversed(uint256 communityId, address provider, uint256 nonce, bytes32 recordId) private {
        mapping(uint256 => uint256) storage words = _reversed[communityId][provider];
        uint256 bit = 1 << (nonce & 0xff);
        uint256 word = words[nonce >> 8];
        if (word & bit != 0) revert AlreadyReversed(communityId, recordId);
        words[nonce >> 8] = word | bit;
    }

    // ---------------------------------------------------------------- account words

    function _balance(uint256 account) private pure returns (int256) {
        return int256(int64(uint64(account >> BALANCE_SHIFT)));
    }

    function _withBalance(uint256 account, int256 balance) private pure returns (uint256) {
        // Callers bound `balance` to the int64 range (limits are int64).
        return (account & BELOW_BALANCE) | (uint256(uint64(int64(balance))) << BALANCE_SHIFT);
    }

    function _isRetiredWord(uint256 account) private pure returns (bool) {
        return (account >> STAMP_SHIFT) & type(uint32).max == RETIRED;
    }

    function _nonceBase(uint256 account) private pure returns (uint256) {
        return (account >> 128) & type(uint32).max;
    }

    /// @dev Records that `account` (unless it is the community's) was resident at roll `version`.
    function _stamp(uint256 communityId, address account, uint256 version) private {
        if (account == COMMUNITY_ACCOUNT) return;
        uint256 word = _accounts[communityId][account];
        _accounts[communityId][account] = (word & ~(uint256(type(uint32).max) << STAMP_SHIFT)) | (version << STAMP_SHIFT);
    }

    /// @dev Marks the window bit `bit`, then slides the window past the recorded nonces at its
    /// bottom, so that every nonce below the base is one that was recorded.
    function _advance(uint256 account, uint256 bit) private pure returns (uint256) {
        uint256 window = (account & WINDOW_MASK) | bit;
        // The number of trailing ones: (w + 1) & ~w isolates the lowest zero bit.
        uint256 shift = window & 1 == 0 ? 0 : Math.log2((window + 1) & ~window);
        uint256 base = _nonceBase(account) + shift;
        return (account & ~REPLAY_MASK) | (base << 128) | (window >> shift);
    }

    function _isRecorded(uint256 account, uint256 nonce) private pure returns (bool) {
        uint256 base = _nonceBase(account);
        if (nonce < base) return true;
        return nonce - base < WINDOW && account & (1 << (nonce - base)) != 0;
    }

    // ---------------------------------------------------------------- low level

    /// @dev The struct hash of `rec` (its record id): the record's six static fields are copied
    /// as they sit in calldata, which is their ABI encoding (the signed values). By hand because
    /// `keccak256(abi.encode(SERVICE_TYPEHASH, communityId, rec))` cost 575 gas more a call
    /// (recordService alone 85,432 against 84,857 in bench/gas_fund.py).
    function _recordId(uint256 communityId, ServiceRecord calldata rec) private pure returns (bytes32 id) {
        bytes32 typehash = SERVICE_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), communityId)
            calldatacopy(add(ptr, 0x40), rec, 0xc0)
            id := keccak256(ptr, 0x100)
        }
    }

    /// @dev The version of `communityId`'s published roll (0 before the first publication).
    function _rollVersion(uint256 communityId) private view returns (uint256 version) {
        (version,) = _registry.rollSnapshot(communityId);
    }

    function _limitsOf(uint256 communityId) private view returns (int256 floor, int256 ceiling) {
        Limits memory limits = _limits[communityId];
        if (!limits.set) return (DEFAULT_FLOOR, DEFAULT_CEILING);
        return (limits.floor, limits.ceiling);
    }

    function _revertWith(bytes memory err) private pure {
        // The ABI-encoded custom error, rethrown as it is.
        if (err.length != 0) LowLevelCall.bubbleRevert(err);
    }
}
