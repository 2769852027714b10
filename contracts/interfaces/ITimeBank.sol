// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ITimeBank
/// @notice A mutual-credit time bank per community: residents bank the minutes they serve and
/// spend them on services from others. A service counts only when both sides signed it.
/// @dev Credits are minutes (signed integers). A service of m minutes moves m from the
/// recipient's balance to the provider's, so the balances of a community always sum to zero.
/// The community's own account is `COMMUNITY_ACCOUNT` (address(0)): service to the community
/// credits the provider and debits it; for that side a COORDINATOR of the community signs instead.
///
/// Records are EIP-712 messages signed by both sides and relayed by anyone, one at a time
/// (`recordService`, reverts on a bad record) or in batches (`recordServices`, skips a bad record
/// with `ServiceSkipped` carrying the custom error it broke). A record is identified by its
/// community, its provider and a nonce the provider's side chooses, and counts at most once: two
/// identical services are two records with two nonces, and a signed record cannot be replayed.
///
/// Replay state and balance share one storage slot per (community, account), so a batch touches
/// one slot per member: every nonce below the account's `nonceBase` has been recorded, and a
/// 128-bit window records which of the next 128 have. Nonces may arrive out of order within
/// that window (`NonceTooFarAhead` beyond it, and at or above 2^32 - 1); clients take the lowest
/// free nonce (`nonceState`). The same slot remembers the roll version at which the member was
/// last found resident, so a batch asks the Registry only about members it has not seen since
/// the roll was last published.
///
/// A resident whose key is replaced (a lost or replaced phone: IRegistry.replaceResident) keeps
/// their balance: a registrar then carries it over from the old key to the new (`carryOver`),
/// which retires the old key's account. A retired key signs nothing more: records and reversals
/// naming it are refused with `KeyRetired`, including ones both sides signed before the rotation
/// and nobody relayed yet (they are signed again with the new key). Its recorded nonces stay
/// recorded, so nothing it signed can be replayed, and its past records stay where they are, in
/// its name; they can no longer be reversed (a new record between the new key and the other side
/// corrects a mistake instead).
///
/// Mistakes are corrected by a reversing record that both sides sign; nothing is edited or
/// deleted and each record is reversed at most once. The contract keeps no copy of a record (a
/// word per record would cost more than a batch's whole budget per record); instead each
/// recording call commits to the ids of the records it recorded, in order, with one storage word
/// (`batchRoot`, announced by `ServiceBatchCommitted`), and a reversal proves that its original is
/// exactly a committed record.
interface ITimeBank {
    // ---------------------------------------------------------------- types

    /// @notice What both sides sign (EIP-712 type `ServiceRecord`, together with the community id:
    /// `ServiceRecord(uint256 communityId,address provider,address recipient,uint32 minutesServed,bytes8 category,bytes32 noteHash,uint256 nonce)`).
    /// @dev `category` is a short code agreed in the community (e.g. "CARE", "REPAIR");
    /// `noteHash` the hash of a private note kept off-chain; `nonce` the provider side's, unused
    /// below `nonceBase + 128` and below 2^32 - 1 (see `nonceState`). The record's id is its EIP-712 struct hash.
    struct ServiceRecord {
        address provider;
        address recipient;
        uint32 minutesServed;
        bytes8 category;
        bytes32 noteHash;
        uint256 nonce;
    }

    /// @notice An ECDSA signature in the compact EIP-2098 form: `vs` is s with v's parity in its top bit.
    struct Signature {
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A record with the signatures of both sides (for the community's side, a coordinator's).
    struct SignedRecord {
        ServiceRecord record;
        Signature providerSig;
        Signature recipientSig;
    }

    /// @notice Where a recorded record sits: the recording call's `batchId`, the ids of every record
    /// that call recorded, in order (rebuilt from its `ServiceRecorded` events, or from the
    /// `ServiceBatchCommitted` event's transaction), and the record's `index` among them.
    struct BatchProof {
        uint256 batchId;
        bytes32[] recordIds;
        uint256 index;
    }

    // ---------------------------------------------------------------- events

    /// @notice Member balances of `communityId` must stay within [floor, ceiling] minutes.
    event LimitsSet(uint256 indexed communityId, int256 floor, int256 ceiling, address indexed setBy);

    /// @notice A service was recorded: `minutesServed` moved from `recipient` to `provider`.
    /// The record's id (its EIP-712 struct hash) follows from these fields; it is left out to keep
    /// batches cheap (`recordIdOf` computes it).
    event ServiceRecorded(
        uint256 indexed communityId,
        address indexed provider,
        address indexed recipient,
        uint256 minutesServed,
        bytes8 category,
        bytes32 noteHash,
        uint256 nonce
    );

    /// @notice The call that emitted it recorded `count` records (a single `recordService` is a
    /// batch of one) and committed to them as batch `batchId`: `root` is keccak256 of their record
    /// ids concatenated in the order of their `ServiceRecorded` events, which are the `count`
    /// ServiceRecorded events of this contract just before this one. Calls that record nothing
    /// commit nothing. Batch ids count up from 1 across all communities.
    event ServiceBatchCommitted(uint256 indexed communityId, uint256 indexed batchId, bytes32 root, uint256 count);

    /// @notice A record in a batch was not recorded; `reason` is the ABI-encoded custom error it
    /// broke (the same error `recordService` would revert with). It can be fixed and resubmitted.
    /// @dev Anyone may relay anything: a skip naming `provider` is not evidence that the provider
    /// signed or sent anything, and changes nothing.
    event ServiceSkipped(
        uint256 indexed communityId, bytes32 indexed recordId, address indexed provider, uint256 nonce, bytes reason
    );

    /// @notice The record `recordId` (provider, recipient, minutes as recorded) was reversed:
    /// `minutesServed` moved back from `provider` to `recipient`. `reasonHash` is the hash of the
    /// off-chain explanation both sides signed.
    event ServiceReversed(
        uint256 indexed communityId,
        address indexed provider,
        address indexed recipient,
        bytes32 recordId,
        uint256 minutesServed,
        bytes32 reasonHash
    );

    /// @notice `registrar` carried the balance of `oldAccount`, `minutesMoved` (negative for a
    /// debt), over to `newAccount`, the key that replaced it in the Registry; `oldAccount`'s
    /// balance is now zero and its account retired.
    event BalanceCarriedOver(
        uint256 indexed communityId,
        address indexed oldAccount,
        address indexed newAccount,
        int256 minutesMoved,
        address registrar
    );

    // ---------------------------------------------------------------- errors

    /// @notice Only the community admin may do this.
    error NotCommunityAdmin(uint256 communityId, address account);

    /// @notice Limits must satisfy floor <= 0 <= ceiling.
    error InvalidLimits(int256 floor, int256 ceiling);

    /// @notice A service must last at least one minute.
    error ZeroMinutes();

    /// @notice Provider and recipient must differ.
    error SameParty(address account);

    /// @notice Both members must be on the community's resident roll.
    error NotResident(uint256 communityId, address account);

    /// @notice A member's side must be signed by that member; `recovered` signed it (address(0) if
    /// the signature is malformed or malleable).
    error WrongSigner(address party, address recovered);

    /// @notice The community's side must be signed by one of its coordinators.
    error NotCoordinator(uint256 communityId, address account);

    /// @notice A coordinator cannot confirm, for the community, a service they are party to.
    error CoordinatorIsParty(uint256 communityId, address coordinator);

    /// @notice This (community, provider, nonce) was already recorded: a replay or a reused nonce.
    error NonceAlreadyUsed(uint256 communityId, address provider, uint256 nonce);

    /// @notice The nonce is 128 or more above the provider's lowest unrecorded nonce `nonceBase`
    /// (or 2^32 - 1 or more): record the earlier ones first, or sign with a lower nonce.
    error NonceTooFarAhead(uint256 communityId, address provider, uint256 nonce, uint256 nonceBase);

    /// @notice The record would take `account` below the community's floor (for the community's own
    /// account, below the int64 range).
    error BelowFloor(uint256 communityId, address account, int256 balance, int256 floor);

    /// @notice The record would take `account` above the community's ceiling (for the community's
    /// own account, above the int64 range).
    error AboveCeiling(uint256 communityId, address account, int256 balance, int256 ceiling);

    /// @notice No record with this (community, provider, nonce) was ever recorded.
    error RecordNotFound(uint256 communityId, address provider, uint256 nonce);

    /// @notice The record ids given for batch `batchId` hash to `given`, not to the batch's
    /// committed `root` (zero: no such batch).
    error BatchRootMismatch(uint256 batchId, bytes32 root, bytes32 given);

    /// @notice The record `recordId` (the original as passed in) is not the one committed at
    /// `index` of batch `batchId`: the original differs from what was recorded, or the index is wrong.
    error RecordNotInBatch(uint256 communityId, bytes32 recordId, uint256 batchId, uint256 index);

    /// @notice The record was already reversed (each record is reversed at most once).
    error AlreadyReversed(uint256 communityId, bytes32 recordId);

    /// @notice Only a REGISTRAR of `communityId` may carry a balance over; `account` is none.
    error NotRegistrar(uint256 communityId, address account);

    /// @notice The Registry records no replacement of `account` in `communityId`: a balance moves
    /// only to the key a registrar recorded in its place (IRegistry.replaceResident).
    error RotationNotRecorded(uint256 communityId, address account);

    /// @notice The balance of `account` was already carried over to `replacement`, once and for good.
    error AlreadyCarriedOver(uint256 communityId, address account, address replacement);

    /// @notice `account` was replaced by `replacement` and signs nothing more in `communityId`: sign
    /// the record again with the new key.
    error KeyRetired(uint256 communityId, address account, address replacement);

    // ---------------------------------------------------------------- functions

    /// @notice The pseudo-account of the community itself (address(0)).
    function COMMUNITY_ACCOUNT() external view returns (address);

    /// @notice Set the balance limits of `communityId`'s members. Community admin only. Balances
    /// already outside new limits stay as they are, but can only move back towards them.
    function setLimits(uint256 communityId, int64 floor, int64 ceiling) external;

    /// @notice Record one service signed by both sides; reverts with the broken rule's error.
    /// @return recordId The record's EIP-712 struct hash.
    function recordService(uint256 communityId, SignedRecord calldata item) external returns (bytes32 recordId);

    /// @notice Record a batch of services of one community signed by both sides. A bad record is
    /// skipped with `ServiceSkipped` (the batch does not revert).
    /// @return recorded How many records of the batch were recorded.
    function recordServices(uint256 communityId, SignedRecord[] calldata items) external returns (uint256 recorded);

    /// @notice Reverse a recorded service. Both sides of the original sign
    /// `ServiceReversal(bytes32 recordId,bytes32 reasonHash)` (for the community's side, a coordinator
    /// who is not the other party); each member side must be on the community's roll now, as for a
    /// new record. The original is passed in full and must be exactly a recorded record: its
    /// (provider, nonce) recorded and not yet reversed, and its id the one at `proof.index` of the
    /// ids `proof.recordIds` that hash to batch `proof.batchId`'s committed root. Limits apply as
    /// to any record.
    /// @dev Checks in order: both sides (`WrongSigner`, `NotCoordinator`, `CoordinatorIsParty`,
    /// `NotResident`), `RecordNotFound`, `BatchRootMismatch`, `RecordNotInBatch`,
    /// `AlreadyReversed`, then `AboveCeiling` / `BelowFloor`. A member who has left the roll
    /// cannot take part in a reversal, as they cannot in a record: once off the roll an account
    /// is frozen (a registrar can put them back to fix a mistake). Requiring the roll also keeps
    /// anyone who was never a resident from signing a reversal at all; the batch proof alone
    /// already limits a reversal to a record both residents signed and the contract recorded.
    function reverseService(
        uint256 communityId,
        ServiceRecord calldata original,
        BatchProof calldata proof,
        bytes32 reasonHash,
        Signature calldata providerSig,
        Signature calldata recipientSig
    ) external;

    /// @notice Moves the whole balance of `oldAccount` to the key that replaced it in the Registry
    /// (BalanceCarriedOver) and retires `oldAccount`'s account. REGISTRAR of `communityId` only
    /// (`NotRegistrar`); the replacement must be recorded (`RotationNotRecorded`); once per key
    /// (`AlreadyCarriedOver`). The balances' sum is unchanged, and the limits do not apply: the
    /// minutes are the same person's (a total outside them can only move back towards them).
    /// @dev The new key may already have recorded services since the rotation: the carried
    /// balance is added to its own. Only the int64 range bounds the sum (`AboveCeiling` /
    /// `BelowFloor` with those bounds).
    /// @return minutesMoved The balance moved (negative for a debt).
    function carryOver(uint256 communityId, address oldAccount) external returns (int256 minutesMoved);

    /// @notice Whether `account`'s balance was carried over to its replacement (its account retired).
    function isRetired(uint256 communityId, address account) external view returns (bool);

    /// @notice The balance of `account` (or of the community, for COMMUNITY_ACCOUNT) in minutes.
    function balanceOf(uint256 communityId, address account) external view returns (int256);

    /// @notice The balance limits of `communityId`'s members (defaults -600 / 6000 until the admin
    /// sets them). The community's own account is bounded only by the int64 range.
    function limitsOf(uint256 communityId) external view returns (int256 floor, int256 ceiling);

    /// @notice Whether (community, provider, nonce) has been recorded.
    function isRecorded(uint256 communityId, address provider, uint256 nonce) external view returns (bool);

    /// @notice The replay state of `provider`'s side in `communityId`: every nonce below
    /// `nonceBase` is recorded; bit i of `window` tells whether `nonceBase + i` is (i < 128).
    function nonceState(uint256 communityId, address provider)
        external
        view
        returns (uint256 nonceBase, uint256 window);

    /// @notice Whether the record (community, provider, nonce) has been reversed.
    function isReversed(uint256 communityId, address provider, uint256 nonce) external view returns (bool);

    /// @notice The id of a record: its EIP-712 struct hash.
    function recordIdOf(uint256 communityId, ServiceRecord calldata record) external pure returns (bytes32);

    /// @notice The EIP-712 digest both sides sign for `record`.
    function serviceDigest(uint256 communityId, ServiceRecord calldata record) external view returns (bytes32);

    /// @notice The committed root of batch `batchId` (zero if there is none).
    function batchRoot(uint256 batchId) external view returns (bytes32);

    /// @notice How many batches have been committed (the last batch id).
    function batchCount() external view returns (uint256);

    /// @notice The EIP-712 digest both sides sign to reverse record `recordId`.
    function reversalDigest(bytes32 recordId, bytes32 reasonHash) external view returns (bytes32);
}
