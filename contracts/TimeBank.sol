// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IRegistryView} from "./interfaces/IRegistryView.sol";
import {ITimeBank} from "./interfaces/ITimeBank.sol";

/// @title TimeBank
/// @notice Minute balances of each community's residents, moved only by service records that
/// both sides signed. See ITimeBank.
/// @dev Built for batches: per record it keeps one bit of storage (the replay bit of its nonce, in
/// a word shared by 256 nonces of the same provider) besides the two balances, and reads the
/// resident roll once per member per batch.
contract TimeBank is ITimeBank, ERC2771Context, EIP712 {
    bytes32 private constant COORDINATOR = keccak256("COORDINATOR");
    bytes32 private constant SERVICE_TYPEHASH = keccak256(
        "ServiceRecord(uint256 communityId,address provider,address recipient,uint32 minutesServed,bytes8 category,bytes32 noteHash,uint256 nonce)"
    );
    bytes32 private constant REVERSAL_TYPEHASH = keccak256("ServiceReversal(bytes32 recordId,bytes32 reasonHash)");
    int64 private constant DEFAULT_FLOOR = -600;
    int64 private constant DEFAULT_CEILING = 6000;

    /// @inheritdoc ITimeBank
    address public constant COMMUNITY_ACCOUNT = address(0);

    struct Limits {
        int64 floor;
        int64 ceiling;
        bool set;
    }

    IRegistryView private immutable _registry;

    mapping(uint256 communityId => Limits) private _limits;
    mapping(uint256 communityId => mapping(address account => int256)) private _balances;
    mapping(uint256 communityId => mapping(address provider => mapping(uint256 word => uint256))) private _recorded;
    mapping(uint256 communityId => mapping(address provider => mapping(uint256 word => uint256))) private _reversed;

    constructor(address trustedForwarder, address registry)
        ERC2771Context(trustedForwarder)
        EIP712("CommonsTimeBank", "1")
    {
        _registry = IRegistryView(registry);
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
        (int256 floor, int256 ceiling) = _limitsOf(communityId);
        bytes memory err;
        (recordId, err) = _record(communityId, item, floor, ceiling);
        _revertWith(err);
    }

    /// @inheritdoc ITimeBank
    function recordServices(uint256 communityId, SignedRecord[] calldata items) external returns (uint256 recorded) {
        (int256 floor, int256 ceiling) = _limitsOf(communityId);
        uint256 n = items.length;
        for (uint256 i = 0; i < n; ++i) {
            SignedRecord calldata item = items[i];
            (bytes32 recordId, bytes memory err) = _record(communityId, item, floor, ceiling);
            if (err.length == 0) {
                ++recorded;
            } else {
                emit ServiceSkipped(communityId, recordId, item.record.provider, item.record.nonce, err);
            }
        }
    }

    /// @inheritdoc ITimeBank
    function reverseService(
        uint256 communityId,
        ServiceRecord calldata original,
        bytes32 reasonHash,
        Signature calldata providerSig,
        Signature calldata recipientSig
    ) external {
        bytes32 recordId = _recordId(communityId, original);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(REVERSAL_TYPEHASH, recordId, reasonHash)));
        // Residency is not required: a mistake must stay fixable after a member left the roll.
        _revertWith(_checkSide(communityId, original.provider, original.recipient, digest, providerSig, false));
        _revertWith(_checkSide(communityId, original.recipient, original.provider, digest, recipientSig, false));
        _markReversed(communityId, original.provider, original.nonce, recordId);
        (int256 floor, int256 ceiling) = _limitsOf(communityId);
        // A reversal is the original with the sides swapped: the original provider pays back.
        _revertWith(_move(communityId, original.recipient, original.provider, original.minutesServed, floor, ceiling));
        emit ServiceReversed(
            communityId, original.provider, original.recipient, recordId, original.minutesServed, reasonHash
        );
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ITimeBank
    function balanceOf(uint256 communityId, address account) external view returns (int256) {
        return _balances[communityId][account];
    }

    /// @inheritdoc ITimeBank
    function limitsOf(uint256 communityId) external view returns (int256 floor, int256 ceiling) {
        return _limitsOf(communityId);
    }

    /// @inheritdoc ITimeBank
    function isRecorded(uint256 communityId, address provider, uint256 nonce) external view returns (bool) {
        return _isSet(_recorded[communityId][provider], nonce);
    }

    /// @inheritdoc ITimeBank
    function isReversed(uint256 communityId, address provider, uint256 nonce) external view returns (bool) {
        return _isSet(_reversed[communityId][provider], nonce);
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
    function reversalDigest(bytes32 recordId, bytes32 reasonHash) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(REVERSAL_TYPEHASH, recordId, reasonHash)));
    }

    /// @notice The Registry this time bank reads rolls and roles from.
    function registry() external view returns (address) {
        return address(_registry);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Checks one record and applies it. Returns the ABI-encoded custom error of the first
    /// broken rule instead of reverting, so a batch can skip the record; empty on success.
    /// Nothing is written unless every check passed.
    function _record(uint256 communityId, SignedRecord calldata item, int256 floor, int256 ceiling)
        private
        returns (bytes32 recordId, bytes memory err)
    {
        ServiceRecord calldata rec = item.record;
        recordId = _recordId(communityId, rec);
        err = _checkSignatures(communityId, item, recordId);
        if (err.length != 0) return (recordId, err);
        if (_isSet(_recorded[communityId][rec.provider], rec.nonce)) {
            return (recordId, abi.encodeWithSelector(NonceAlreadyUsed.selector, communityId, rec.provider, rec.nonce));
        }
        err = _move(communityId, rec.provider, rec.recipient, rec.minutesServed, floor, ceiling);
        if (err.length != 0) return (recordId, err);
        _set(_recorded[communityId][rec.provider], rec.nonce);
        emit ServiceRecorded(
            communityId, rec.provider, rec.recipient, recordId, rec.minutesServed, rec.category, rec.noteHash, rec.nonce
        );
    }

    /// @dev The record's shape and both signatures (and the members' residency).
    function _checkSignatures(uint256 communityId, SignedRecord calldata item, bytes32 recordId)
        private
        view
        returns (bytes memory err)
    {
        ServiceRecord calldata rec = item.record;
        if (rec.minutesServed == 0) return abi.encodeWithSelector(ZeroMinutes.selector);
        if (rec.provider == rec.recipient) return abi.encodeWithSelector(SameParty.selector, rec.provider);
        bytes32 digest = _hashTypedDataV4(recordId);
        err = _checkSide(communityId, rec.provider, rec.recipient, digest, item.providerSig, true);
        if (err.length == 0) err = _checkSide(communityId, rec.recipient, rec.provider, digest, item.recipientSig, true);
    }

    /// @dev Moves `minutesServed` from `recipient` to `provider` if both stay within the limits;
    /// otherwise writes nothing and returns the error. Only the side that moves away from zero
    /// can cross a limit; the community's own account has none.
    function _move(
        uint256 communityId,
        address provider,
        address recipient,
        uint32 minutesServed,
        int256 floor,
        int256 ceiling
    ) private returns (bytes memory) {
        int256 mins = int256(uint256(minutesServed));
        mapping(address => int256) storage balances = _balances[communityId];
        int256 providerBalance = balances[provider] + mins;
        if (provider != COMMUNITY_ACCOUNT && providerBalance > ceiling) {
            return abi.encodeWithSelector(AboveCeiling.selector, communityId, provider, providerBalance, ceiling);
        }
        int256 recipientBalance = balances[recipient] - mins;
        if (recipient != COMMUNITY_ACCOUNT && recipientBalance < floor) {
            return abi.encodeWithSelector(BelowFloor.selector, communityId, recipient, recipientBalance, floor);
        }
        balances[provider] = providerBalance;
        balances[recipient] = recipientBalance;
        return "";
    }

    /// @dev Sets the reversed bit of a recorded, not yet reversed (community, provider, nonce).
    function _markReversed(uint256 communityId, address provider, uint256 nonce, bytes32 recordId) private {
        if (!_isSet(_recorded[communityId][provider], nonce)) revert RecordNotFound(communityId, provider, nonce);
        mapping(uint256 => uint256) storage reversed = _reversed[communityId][provider];
        if (_isSet(reversed, nonce)) revert AlreadyReversed(communityId, recordId);
        _set(reversed, nonce);
    }

    /// @dev Checks the signature of one side: the member themself, or for the community's side a
    /// coordinator who is not the other party. Returns the encoded error, empty if fine.
    function _checkSide(
        uint256 communityId,
        address party,
        address other,
        bytes32 digest,
        Signature calldata sig,
        bool requireResident
    ) private view returns (bytes memory) {
        (address signer, ECDSA.RecoverError status,) = ECDSA.tryRecover(digest, sig.r, sig.vs);
        if (status != ECDSA.RecoverError.NoError) signer = address(0);
        if (party == COMMUNITY_ACCOUNT) {
            if (signer == address(0) || !_registry.hasRole(communityId, COORDINATOR, signer)) {
                return abi.encodeWithSelector(NotCoordinator.selector, communityId, signer);
            }
            if (signer == other) return abi.encodeWithSelector(CoordinatorIsParty.selector, communityId, signer);
            return "";
        }
        if (signer != party) return abi.encodeWithSelector(WrongSigner.selector, party, signer);
        if (requireResident && !_registry.isResident(communityId, party)) {
            return abi.encodeWithSelector(NotResident.selector, communityId, party);
        }
        return "";
    }

    function _recordId(uint256 communityId, ServiceRecord calldata rec) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                SERVICE_TYPEHASH,
                communityId,
                rec.provider,
                rec.recipient,
                rec.minutesServed,
                rec.category,
                rec.noteHash,
                rec.nonce
            )
        );
    }

    function _limitsOf(uint256 communityId) private view returns (int256 floor, int256 ceiling) {
        Limits memory limits = _limits[communityId];
        if (!limits.set) return (DEFAULT_FLOOR, DEFAULT_CEILING);
        return (limits.floor, limits.ceiling);
    }

    /// @dev Nonce n is bit n % 256 of word n / 256: a provider's nearby nonces share a word.
    function _isSet(mapping(uint256 => uint256) storage words, uint256 nonce) private view returns (bool) {
        return words[nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    function _set(mapping(uint256 => uint256) storage words, uint256 nonce) private {
        words[nonce >> 8] |= 1 << (nonce & 0xff);
    }

    function _revertWith(bytes memory err) private pure {
        if (err.length != 0) {
            assembly ("memory-safe") {
                revert(add(err, 0x20), mload(err))
            }
        }
    }
}
