// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";

import {IRegistry} from "./interfaces/IRegistry.sol";
import {ROLL_SNAPSHOT_LIFETIME as SNAPSHOT_LIFETIME, RollRecord} from "./libraries/RollRecord.sol";

/// @title Registry
/// @notice Communities, roles and versioned resident rolls for Commons Ledger.
/// @dev See {IRegistry} for the roll versioning scheme and RollRecord for the per-resident word.
contract Registry is IRegistry, ERC2771Context {
    using RollRecord for uint256;

    /// @inheritdoc IRegistry
    bytes32 public constant COMMITTEE = keccak256("COMMITTEE");
    /// @inheritdoc IRegistry
    bytes32 public constant REGISTRAR = keccak256("REGISTRAR");
    /// @inheritdoc IRegistry
    bytes32 public constant COORDINATOR = keccak256("COORDINATOR");
    /// @inheritdoc IRegistry
    bytes32 public constant AUDITOR = keccak256("AUDITOR");
    /// @inheritdoc IRegistry
    bytes32 public constant POLL_OFFICER = keccak256("POLL_OFFICER");
    /// @inheritdoc IRegistry
    uint256 public constant ROLL_INTERVALS = RollRecord.INTERVALS;
    /// @inheritdoc IRegistry
    uint256 public constant ROLL_SNAPSHOT_LIFETIME = SNAPSHOT_LIFETIME;

    struct Community {
        address admin;
        uint32 rollVersion; // published
        uint32 rollSize; // published
        uint32 pendingSize; // with staged changes
        uint32 nextIndex; // indexes handed out so far
    }

    struct AuditorKey {
        address auditor; // zero: never registered
        uint48 registeredAt; // block
        uint48 revokedAt; // block; 0 while in force
        uint256 communityId;
    }

    uint256 private _communityCount;
    mapping(uint256 communityId => Community) private _communities;
    mapping(uint256 communityId => mapping(bytes32 role => mapping(address account => bool))) private _roles;
    mapping(uint256 communityId => mapping(bytes32 role => uint256)) private _roleCounts;
    mapping(uint256 communityId => mapping(address account => uint256 record)) private _records;
    mapping(uint256 communityId => mapping(uint32 version => uint256 timestamp)) private _publishedAt;
    mapping(uint256 communityId => address pendingAdmin) private _pendingAdmins;
    mapping(bytes32 keyFingerprint => AuditorKey) private _auditorKeys;
    mapping(uint256 communityId => mapping(address account => address replacement)) private _replacements;

    /// @notice Wires the Registry to the forwarder that relays signed requests.
    /// @param trustedForwarder The ERC-2771 forwarder allowed to relay signed requests.
    constructor(address trustedForwarder) ERC2771Context(trustedForwarder) {}

    // ---------------------------------------------------------------- admin and roles

    /// @inheritdoc IRegistry
    function createCommunity(bytes32 metadataHash) external returns (uint256 communityId) {
        address admin = _msgSender();
        communityId = ++_communityCount;
        _communities[communityId].admin = admin;
        emit CommunityCreated(communityId, admin, metadataHash);
    }

    /// @inheritdoc IRegistry
    function transferAdmin(uint256 communityId, address newAdmin) external {
        Community storage community = _adminCommunity(communityId);
        if (newAdmin == address(0)) revert ZeroAddress();
        _pendingAdmins[communityId] = newAdmin;
        emit AdminTransferStarted(communityId, community.admin, newAdmin);
    }

    /// @inheritdoc IRegistry
    function acceptAdmin(uint256 communityId) external {
        address sender = _msgSender();
        address pending = _pendingAdmins[communityId];
        // A community that does not exist has no pending admin: nobody can accept it.
        if (pending == address(0) || sender != pending) revert NotPendingAdmin(communityId, sender, pending);
        Community storage community = _communities[communityId];
        address previous = community.admin;
        community.admin = sender;
        delete _pendingAdmins[communityId];
        emit AdminTransferred(communityId, previous, sender);
    }

    /// @inheritdoc IRegistry
    function cancelAdminTransfer(uint256 communityId) external {
        Community storage community = _adminCommunity(communityId);
        address pending = _pendingAdmins[communityId];
        if (pending == address(0)) revert NoPendingAdmin(communityId);
        delete _pendingAdmins[communityId];
        emit AdminTransferCancelled(communityId, community.admin, pending);
    }

    /// @inheritdoc IRegistry
    function grantRole(uint256 communityId, bytes32 role, address account) external {
        _adminCommunity(communityId);
        _checkKnownRole(role);
        if (account == address(0)) revert ZeroAddress();
        if (_roles[communityId][role][account]) revert RoleAlreadyGranted(communityId, role, account);
        _roles[communityId][role][account] = true;
        ++_roleCounts[communityId][role];
        emit RoleGranted(communityId, role, account, _msgSender());
    }

    /// @inheritdoc IRegistry
    function revokeRole(uint256 communityId, bytes32 role, address account) external {
        _adminCommunity(communityId);
        _checkKnownRole(role);
        if (!_roles[communityId][role][account]) revert RoleNotGranted(communityId, role, account);
        _roles[communityId][role][account] = false;
        --_roleCounts[communityId][role];
        emit RoleRevoked(communityId, role, account, _msgSender());
    }

    // ---------------------------------------------------------------- auditor keys

    /// @inheritdoc IRegistry
    function registerAuditorKey(uint256 communityId, bytes32 keyFingerprint) external {
        address sender = _msgSender();
        if (_communities[communityId].admin == address(0)) revert UnknownCommunity(communityId);
        if (!_roles[communityId][AUDITOR][sender]) revert MissingRole(communityId, AUDITOR, sender);
        if (keyFingerprint == bytes32(0)) revert ZeroKeyFingerprint();
        AuditorKey storage key = _auditorKeys[keyFingerprint];
        if (key.auditor != address(0)) revert AuditorKeyAlreadyRegistered(keyFingerprint, key.auditor);
        key.auditor = sender;
        key.registeredAt = uint48(block.number);
        key.communityId = communityId;
        emit AuditorKeyRegistered(communityId, sender, keyFingerprint);
    }

    /// @inheritdoc IRegistry
    function revokeAuditorKey(bytes32 keyFingerprint) external {
        AuditorKey storage key = _auditorKeys[keyFingerprint];
        address auditor = key.auditor;
        if (auditor == address(0)) revert UnknownAuditorKey(keyFingerprint);
        if (key.revokedAt != 0) revert AuditorKeyAlreadyRevoked(keyFingerprint, key.revokedAt);
        uint256 communityId = key.communityId;
        address sender = _msgSender();
        if (sender != auditor && sender != _communities[communityId].admin) {
            revert NotKeyAuditorOrAdmin(keyFingerprint, sender);
        }
        key.revokedAt = uint48(block.number);
        emit AuditorKeyRevoked(communityId, auditor, keyFingerprint, sender);
    }

    // ---------------------------------------------------------------- roll

    /// @inheritdoc IRegistry
    function updateRoll(uint256 communityId, address[] calldata added, address[] calldata removed, bool publish)
        external
        returns (uint32 version)
    {
        Community storage community = _registrarCommunity(communityId);
        version = community.rollVersion + 1;
        (uint256 size, uint256 nextIndex) = _stage(communityId, version, community, added, removed);
        community.pendingSize = uint32(size);
        community.nextIndex = uint32(nextIndex);
        emit RollUpdated(communityId, version, added, removed);
        if (publish) _publish(communityId, community, version);
    }

    /// @inheritdoc IRegistry
    function replaceResident(uint256 communityId, address oldAccount, address newAccount)
        external
        returns (uint32 version)
    {
        Community storage community = _registrarCommunity(communityId);
        if (newAccount == address(0)) revert ZeroAddress();
        mapping(address => uint256) storage records = _records[communityId];
        address replacement = _replacements[communityId][oldAccount];
        if (replacement != address(0)) revert KeyAlreadyReplaced(communityId, oldAccount, replacement);
        uint256 oldRecord = records[oldAccount];
        if (!oldRecord.isActive()) revert NotOnRoll(communityId, oldAccount);
        // A key ever on the roll may have time-bank history (or be someone's): only a fresh one
        // takes over a resident's balance.
        if (records[newAccount].indexPlusOne() != 0) revert ReplacementKeyNotFresh(communityId, newAccount);
        uint256 nextIndex = community.nextIndex;
        if (nextIndex == type(uint32).max) revert RollTooLarge(communityId);
        version = community.rollVersion + 1;

        _replacements[communityId][oldAccount] = newAccount;
        records[oldAccount] =
            oldRecord.joinAt(0) == version ? oldRecord.popInterval() : oldRecord.withLeave0(version);
        records[newAccount] = uint256(0).withIndexPlusOne(++nextIndex).pushInterval(version);
        community.nextIndex = uint32(nextIndex);
        address[] memory added = new address[](1);
        address[] memory removed = new address[](1);
        added[0] = newAccount;
        removed[0] = oldAccount;
        emit RollUpdated(communityId, version, added, removed);
        _publish(communityId, community, version);
        emit ResidentReplaced(communityId, oldAccount, newAccount, _msgSender(), version);
    }

    /// @inheritdoc IRegistry
    function publishRoll(uint256 communityId) external returns (uint32 version) {
        Community storage community = _registrarCommunity(communityId);
        version = community.rollVersion + 1;
        _publish(communityId, community, version);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IRegistry
    function communityCount() external view returns (uint256) {
        return _communityCount;
    }

    /// @inheritdoc IRegistry
    function communityAdmin(uint256 communityId) external view returns (address) {
        return _communities[communityId].admin;
    }

    /// @inheritdoc IRegistry
    function pendingAdmin(uint256 communityId) external view returns (address) {
        return _pendingAdmins[communityId];
    }

    /// @inheritdoc IRegistry
    function hasRole(uint256 communityId, bytes32 role, address account) public view returns (bool) {
        return _roles[communityId][role][account];
    }

    /// @inheritdoc IRegistry
    function roleMemberCount(uint256 communityId, bytes32 role) external view returns (uint256) {
        return _roleCounts[communityId][role];
    }

    /// @inheritdoc IRegistry
    function committeeSize(uint256 communityId) external view returns (uint256) {
        return _roleCounts[communityId][COMMITTEE];
    }

    /// @inheritdoc IRegistry
    function auditorKey(bytes32 keyFingerprint)
        external
        view
        returns (uint256 communityId, address auditor, uint256 registeredAt, uint256 revokedAt)
    {
        AuditorKey storage key = _auditorKeys[keyFingerprint];
        return (key.communityId, key.auditor, key.registeredAt, key.revokedAt);
    }

    /// @inheritdoc IRegistry
    function isResident(uint256 communityId, address account) external view returns (bool) {
        uint32 version = _communities[communityId].rollVersion;
        return version != 0 && _records[communityId][account].isMemberAt(version);
    }

    /// @inheritdoc IRegistry
    function wasResident(uint256 communityId, address account, uint32 version) external view returns (bool) {
        _checkPublished(communityId, version);
        uint256 record = _records[communityId][account];
        uint32 historyFrom = record.historyFrom();
        if (version < historyFrom) revert RollHistoryPruned(communityId, account, version, historyFrom);
        return record.isMemberAt(version);
    }

    /// @inheritdoc IRegistry
    function rollSnapshot(uint256 communityId) external view returns (uint32 version, uint32 size) {
        Community storage community = _communities[communityId];
        return (community.rollVersion, community.rollSize);
    }

    /// @inheritdoc IRegistry
    function pendingRoll(uint256 communityId) external view returns (uint32 version, uint32 size) {
        Community storage community = _communities[communityId];
        return (community.rollVersion + 1, community.pendingSize);
    }

    /// @inheritdoc IRegistry
    function rollPublishedAt(uint256 communityId, uint32 version) external view returns (uint256) {
        return _publishedAt[communityId][version];
    }

    /// @inheritdoc IRegistry
    function residentIndex(uint256 communityId, address account) external view returns (bool assigned, uint32 index) {
        uint256 indexPlusOne = _records[communityId][account].indexPlusOne();
        if (indexPlusOne == 0) return (false, 0);
        return (true, uint32(indexPlusOne - 1));
    }

    /// @inheritdoc IRegistry
    function newKeyOf(uint256 communityId, address account) external view returns (address) {
        return _replacements[communityId][account];
    }

    /// @inheritdoc IRegistry
    function rollRecord(uint256 communityId, address account) external view returns (uint256) {
        return _records[communityId][account];
    }

    /// @inheritdoc IRegistry
    function rollIndexAt(uint256 communityId, uint32 version, address account)
        external
        view
        returns (uint256 indexPlusOne)
    {
        _checkPublished(communityId, version);
        return _records[communityId][account].indexAt(version);
    }

    /// @inheritdoc IRegistry
    function rollIndexesAt(uint256 communityId, uint32 version, address[] calldata accounts)
        external
        view
        returns (uint256[] memory indexesPlusOne)
    {
        _checkPublished(communityId, version);
        mapping(address => uint256) storage records = _records[communityId];
        uint256 n = accounts.length;
        indexesPlusOne = new uint256[](n);
        // Runs for every relayed ballot: records are fetched in assembly (no bounds checks), then
        // each is judged by the one RollRecord rule. The one-loop Solidity form
        // `indexesPlusOne[i] = records[accounts[i]].indexAt(version)` cost 101 gas more per
        // relayed ballot (11,983 against 11,882 in bench/gas_council.py, a roll of 1,000).
        assembly ("memory-safe") {
            mstore(0x20, records.slot)
            let out := add(indexesPlusOne, 0x20)
            let end := add(accounts.offset, shl(5, n))
            for { let src := accounts.offset } lt(src, end) { src := add(src, 0x20) } {
                let account := calldataload(src)
                if shr(160, account) { revert(0, 0) } // malformed calldata, as the ABI decoder would
                mstore(0x00, account)
                mstore(out, sload(keccak256(0x00, 0x40)))
                out := add(out, 0x20)
            }
        }
        unchecked {
            for (uint256 i; i < n; ++i) {
                indexesPlusOne[i] = indexesPlusOne[i].indexAt(version);
            }
        }
    }

    // ---------------------------------------------------------------- internals

    /// @dev Applies one batch of staged changes to `version`; returns the new pending size and
    /// index counter (written once by the caller, not per resident).
    function _stage(
        uint256 communityId,
        uint32 version,
        Community storage community,
        address[] calldata added,
        address[] calldata removed
    ) private returns (uint256 size, uint256 nextIndex) {
        size = community.pendingSize;
        nextIndex = community.nextIndex;
        mapping(address => uint256) storage records = _records[communityId];
        for (uint256 i; i < added.length; ++i) {
            address account = added[i];
            if (account == address(0)) revert ZeroAddress();
            uint256 record = records[account];
            if (record.isActive()) revert AlreadyOnRoll(communityId, account);
            if (record.indexPlusOne() == 0) {
                // First addition ever: the index is handed out now and kept for good.
                if (nextIndex == type(uint32).max) revert RollTooLarge(communityId);
                record = uint256(0).withIndexPlusOne(++nextIndex).pushInterval(version);
            } else if (record.leaveAt(0) == version) {
                // Left earlier in this same pending version: the leave is undone.
                record = record.withLeave0(0);
            } else {
                record = _rejoin(communityId, account, record, version);
            }
            records[account] = record;
            ++size;
        }
        for (uint256 i; i < removed.length; ++i) {
            address account = removed[i];
            uint256 record = records[account];
            if (!record.isActive()) revert NotOnRoll(communityId, account);
            // Joined earlier in this same pending version: the join is undone.
            record = record.joinAt(0) == version ? record.popInterval() : record.withLeave0(version);
            records[account] = record;
            --size;
        }
    }

    /// @dev `account`'s record with a new interval opened at `version`, for an account that was
    /// on the roll before. Only a rejoin asks whether the key was replaced: a first addition
    /// costs nothing more.
    function _rejoin(uint256 communityId, address account, uint256 record, uint32 version)
        private
        view
        returns (uint256)
    {
        address replacement = _replacements[communityId][account];
        if (replacement != address(0)) revert KeyAlreadyReplaced(communityId, account, replacement);
        if (record.joinAt(RollRecord.INTERVALS - 1) != 0) record = _prune(communityId, account, record);
        return record.pushInterval(version);
    }

    /// @dev Drops the oldest kept interval of `account`, which is only safe once every proposal
    /// that could have snapshotted a version inside it has closed: such a proposal was opened before
    /// the interval's end was published, and runs at most ROLL_SNAPSHOT_LIFETIME.
    function _prune(uint256 communityId, address account, uint256 record) private view returns (uint256) {
        uint32 endedAt = record.leaveAt(RollRecord.INTERVALS - 1);
        uint256 prunableAt = _publishedAt[communityId][endedAt] + SNAPSHOT_LIFETIME;
        if (block.timestamp < prunableAt) revert RollHistoryFull(communityId, account, prunableAt);
        return record.withHistoryFrom(endedAt);
    }

    function _publish(uint256 communityId, Community storage community, uint32 version) private {
        uint32 size = community.pendingSize;
        community.rollVersion = version;
        community.rollSize = size;
        _publishedAt[communityId][version] = block.timestamp;
        emit RollPublished(communityId, version, size);
    }

    function _adminCommunity(uint256 communityId) private view returns (Community storage community) {
        community = _communities[communityId];
        address admin = community.admin;
        if (admin == address(0)) revert UnknownCommunity(communityId);
        address sender = _msgSender();
        if (sender != admin) revert NotCommunityAdmin(communityId, sender);
    }

    function _registrarCommunity(uint256 communityId) private view returns (Community storage community) {
        community = _communities[communityId];
        if (community.admin == address(0)) revert UnknownCommunity(communityId);
        address sender = _msgSender();
        if (!_roles[communityId][REGISTRAR][sender]) revert MissingRole(communityId, REGISTRAR, sender);
    }

    function _checkKnownRole(bytes32 role) private pure {
        if (role != COMMITTEE && role != REGISTRAR && role != COORDINATOR && role != AUDITOR && role != POLL_OFFICER) {
            revert UnknownRole(role);
        }
    }

    function _checkPublished(uint256 communityId, uint32 version) private view {
        uint32 published = _communities[communityId].rollVersion;
        if (version == 0 || version > published) revert UnknownRollVersion(communityId, version, published);
    }
}
