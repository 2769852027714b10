// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IRegistry
/// @notice Communities, their roles (committee, registrar, coordinator, auditor), their resident
/// rolls, and the report keys their auditors registered.
/// @dev The roll is versioned. A registrar stages changes (residents added and removed, in as many
/// batches as needed) into the pending version and then publishes it; a proposal snapshots the
/// published version when it is opened, and eligibility is always judged at that version, so a
/// resident who leaves after the snapshot still votes and one who joins after it does not, even
/// across leave-and-rejoin. Each resident has one storage word holding a stable per-community index
/// and up to {ROLL_INTERVALS} membership intervals (see RollRecord). Older intervals are pruned
/// only once no proposal can still need them; before that a fourth interval is refused with
/// {RollHistoryFull}.
/// Roles are `keccak256("COMMITTEE")`, `keccak256("REGISTRAR")`, `keccak256("COORDINATOR")`,
/// `keccak256("AUDITOR")` and `keccak256("POLL_OFFICER")`. An auditor signs its audit reports with an Ed25519 key kept off-chain and
/// registers the key's fingerprint here, `sha256` of the raw 32-byte Ed25519 public key, so anyone
/// can tell whose report it is: a fingerprint is registered once, by an AUDITOR for itself, and
/// once revoked stays revoked (a report signed with it is refused from the revoking block on).
/// No personal data: residents are addresses; a community's description is only a hash.
interface IRegistry {
    // ---------------------------------------------------------------- events

    /// @notice A community was created; its creator is its admin.
    /// @param communityId Sequential id, from 1.
    /// @param admin The creator, who grants and revokes roles.
    /// @param metadataHash Hash of the community's public description (kept off-chain).
    event CommunityCreated(uint256 indexed communityId, address indexed admin, bytes32 metadataHash);

    /// @notice The admin of `communityId` named `pendingAdmin` to take over; nothing changes until
    /// `pendingAdmin` accepts (`acceptAdmin`). Naming another replaces the pending one.
    event AdminTransferStarted(uint256 indexed communityId, address indexed admin, address indexed pendingAdmin);

    /// @notice The admin of `communityId` withdrew the offer to `pendingAdmin`.
    event AdminTransferCancelled(uint256 indexed communityId, address indexed admin, address indexed pendingAdmin);

    /// @notice `newAdmin`, named by `previousAdmin`, accepted and is now the community's admin.
    event AdminTransferred(uint256 indexed communityId, address indexed previousAdmin, address indexed newAdmin);

    /// @notice `account` was granted `role` in `communityId` by `sender` (the admin).
    event RoleGranted(uint256 indexed communityId, bytes32 indexed role, address indexed account, address sender);

    /// @notice `account` lost `role` in `communityId`, revoked by `sender` (the admin).
    event RoleRevoked(uint256 indexed communityId, bytes32 indexed role, address indexed account, address sender);

    /// @notice A registrar staged roll changes into pending version `version` (not yet in force).
    /// @dev Indexes are assigned in order of first-ever addition, so they can be rebuilt from these
    /// events. An address removed and re-added (or added and removed) within one pending version
    /// ends up as if neither happened.
    event RollUpdated(uint256 indexed communityId, uint32 indexed version, address[] added, address[] removed);

    /// @notice Roll version `version` is in force, with `size` residents; later proposals snapshot it.
    event RollPublished(uint256 indexed communityId, uint32 indexed version, uint32 size);

    /// @notice `auditor`, an AUDITOR of `communityId`, registered the report key whose fingerprint
    /// (sha256 of the raw 32-byte Ed25519 public key) is `keyFingerprint`; reports it signs are
    /// its from this event's block on. The block number of the log is the registration block.
    event AuditorKeyRegistered(uint256 indexed communityId, address indexed auditor, bytes32 indexed keyFingerprint);

    /// @notice The report key `keyFingerprint` of `auditor` in `communityId` was revoked by `sender`
    /// (the auditor or the community's admin); from this event's block on, no report it signs counts.
    event AuditorKeyRevoked(
        uint256 indexed communityId, address indexed auditor, bytes32 indexed keyFingerprint, address sender
    );

    /// @notice `registrar` replaced the key `oldAccount` of a resident of `communityId` with
    /// `newAccount` (a lost or replaced phone) and put roll version `version` in force: `oldAccount`
    /// left the roll and `newAccount` joined it in `version` (announced by this call's RollUpdated
    /// and RollPublished too). `oldAccount` is retired for good; the time bank carries its balance
    /// over to `newAccount` (ITimeBank.carryOver).
    event ResidentReplaced(
        uint256 indexed communityId,
        address indexed oldAccount,
        address indexed newAccount,
        address registrar,
        uint32 version
    );

    // ---------------------------------------------------------------- errors

    /// @notice No community has id `communityId`.
    error UnknownCommunity(uint256 communityId);

    /// @notice Only the community's admin may do this; `account` is not it.
    error NotCommunityAdmin(uint256 communityId, address account);

    /// @notice Only the pending admin of `communityId` may accept the admin role; `account` is not it
    /// (`pendingAdmin` is, or nobody if it is address(0)).
    error NotPendingAdmin(uint256 communityId, address account, address pendingAdmin);

    /// @notice There is no pending admin transfer in `communityId` to cancel.
    error NoPendingAdmin(uint256 communityId);

    /// @notice `account` lacks `role` in `communityId`.
    error MissingRole(uint256 communityId, bytes32 role, address account);

    /// @notice `role` is none of COMMITTEE, REGISTRAR, COORDINATOR, AUDITOR, POLL_OFFICER.
    error UnknownRole(bytes32 role);

    /// @notice `account` already holds `role` in `communityId`.
    error RoleAlreadyGranted(uint256 communityId, bytes32 role, address account);

    /// @notice `account` does not hold `role` in `communityId`, so it cannot be revoked.
    error RoleNotGranted(uint256 communityId, bytes32 role, address account);

    /// @notice The zero address cannot be an admin, role holder or resident.
    error ZeroAddress();

    /// @notice `account` is already on the (staged) roll of `communityId`.
    error AlreadyOnRoll(uint256 communityId, address account);

    /// @notice `account` is not on the (staged) roll of `communityId`.
    error NotOnRoll(uint256 communityId, address account);

    /// @notice `account` has left and rejoined so often that a new interval would push out an old
    /// one some proposal may still need; it can be re-added from `prunableAt` (unix time) on.
    error RollHistoryFull(uint256 communityId, address account, uint256 prunableAt);

    /// @notice Membership of `account` at `version` was pruned; history is kept from `historyFrom`.
    error RollHistoryPruned(uint256 communityId, address account, uint32 version, uint32 historyFrom);

    /// @notice Roll version `version` of `communityId` is not published (latest is `published`).
    error UnknownRollVersion(uint256 communityId, uint32 version, uint32 published);

    /// @notice A community's roll, or its resident indexes, cannot grow past 2^32 - 1.
    error RollTooLarge(uint256 communityId);

    /// @notice `account` was replaced by `replacement` in `communityId`: a replaced key is retired
    /// for good and can neither be replaced again nor rejoin the roll (replace `replacement` instead).
    error KeyAlreadyReplaced(uint256 communityId, address account, address replacement);

    /// @notice A replacement key must be new to `communityId`'s roll; `account` was on it (or is
    /// staged for it) before, so it may carry history of its own: make a fresh key.
    error ReplacementKeyNotFresh(uint256 communityId, address account);

    /// @notice A report key's fingerprint cannot be zero (no sha256 of a key is).
    error ZeroKeyFingerprint();

    /// @notice `keyFingerprint` was already registered, by `auditor`: a key is registered once
    /// (even after it is revoked), so it names one auditor for good.
    error AuditorKeyAlreadyRegistered(bytes32 keyFingerprint, address auditor);

    /// @notice No report key with fingerprint `keyFingerprint` was ever registered.
    error UnknownAuditorKey(bytes32 keyFingerprint);

    /// @notice The report key `keyFingerprint` was already revoked, at block `revokedAt`.
    error AuditorKeyAlreadyRevoked(bytes32 keyFingerprint, uint256 revokedAt);

    /// @notice Only the key's auditor or its community's admin may revoke `keyFingerprint`;
    /// `account` is neither.
    error NotKeyAuditorOrAdmin(bytes32 keyFingerprint, address account);

    // ---------------------------------------------------------------- admin and roles

    /// @notice Creates a community administered by the caller.
    /// @param metadataHash Hash of the community's public description (no personal data).
    /// @return communityId The new community's id (sequential, from 1).
    function createCommunity(bytes32 metadataHash) external returns (uint256 communityId);

    /// @notice Names `newAdmin` as the pending admin of `communityId` (AdminTransferStarted);
    /// the role moves only when `newAdmin` accepts, so a mistyped address loses nothing. Admin
    /// only; naming another replaces the pending one. Not address(0) (`cancelAdminTransfer`).
    function transferAdmin(uint256 communityId, address newAdmin) external;

    /// @notice The pending admin of `communityId` takes the admin role (AdminTransferred).
    /// Reverts with NotPendingAdmin for anyone else.
    function acceptAdmin(uint256 communityId) external;

    /// @notice Withdraws the pending admin transfer of `communityId` (AdminTransferCancelled).
    /// Admin only; NoPendingAdmin if none is pending.
    function cancelAdminTransfer(uint256 communityId) external;

    /// @notice Grants `role` in `communityId` to `account`. Admin only.
    function grantRole(uint256 communityId, bytes32 role, address account) external;

    /// @notice Revokes `role` in `communityId` from `account`. Admin only.
    function revokeRole(uint256 communityId, bytes32 role, address account) external;

    // ---------------------------------------------------------------- auditor keys

    /// @notice Registers the caller's report key in `communityId` (AuditorKeyRegistered). The caller
    /// must hold AUDITOR there (MissingRole); the key is its own because only it can send this.
    /// @param keyFingerprint sha256 of the raw 32-byte Ed25519 public key the reports are signed with.
    function registerAuditorKey(uint256 communityId, bytes32 keyFingerprint) external;

    /// @notice Revokes the report key `keyFingerprint` for good (AuditorKeyRevoked): reports of
    /// blocks from this one on signed with it are refused. By the key's auditor (even without its
    /// role any more) or by its community's admin (a lost key, or an auditor let go).
    function revokeAuditorKey(bytes32 keyFingerprint) external;

    // ---------------------------------------------------------------- roll

    /// @notice Stages roll changes into the pending version; with `publish`, also puts it in force.
    /// Registrar only. Reverts on the first entry that breaks a rule (nothing is half-applied).
    /// @param added Accounts joining the roll.
    /// @param removed Accounts leaving the roll.
    /// @param publish Whether this batch completes the version (see {publishRoll}).
    /// @return version The pending version the changes went into.
    function updateRoll(uint256 communityId, address[] calldata added, address[] calldata removed, bool publish)
        external
        returns (uint32 version);

    /// @notice Replaces the key `oldAccount` of a resident with `newAccount` (a lost or replaced
    /// phone) and puts the pending roll version in force (ResidentReplaced, with RollUpdated and
    /// RollPublished). Registrar only. `oldAccount` leaves and `newAccount` joins in the pending
    /// version, so a proposal snapshotted before still judges by its own version (the old key may
    /// still vote there, the new one may not). Anything else staged is published with it.
    /// @dev `oldAccount` must be on the staged roll (NotOnRoll) and not already replaced
    /// (KeyAlreadyReplaced); `newAccount` must never have been on this roll (ReplacementKeyNotFresh),
    /// so it has no time-bank history. `oldAccount` is retired for good: it cannot rejoin the roll.
    /// @return version The roll version now published.
    function replaceResident(uint256 communityId, address oldAccount, address newAccount)
        external
        returns (uint32 version);

    /// @notice Puts the pending roll version in force. Registrar only.
    /// @return version The version now published.
    function publishRoll(uint256 communityId) external returns (uint32 version);

    // ---------------------------------------------------------------- views

    /// @notice The committee role id, `keccak256("COMMITTEE")`: opens proposals, tracks execution.
    function COMMITTEE() external view returns (bytes32);

    /// @notice The registrar role id, `keccak256("REGISTRAR")`: publishes the resident roll.
    function REGISTRAR() external view returns (bytes32);

    /// @notice The coordinator role id, `keccak256("COORDINATOR")`: signs for community service.
    function COORDINATOR() external view returns (bytes32);

    /// @notice The auditor role id, `keccak256("AUDITOR")`: registers the keys its reports are signed with.
    function AUDITOR() external view returns (bytes32);

    /// @notice The poll officer role id, `keccak256("POLL_OFFICER")`: records the ballots of
    /// residents who vote in person and signs the totals of paper ballot boxes (see IPollOffice).
    function POLL_OFFICER() external view returns (bytes32);

    /// @notice Membership intervals kept per resident before old ones must be pruned.
    function ROLL_INTERVALS() external view returns (uint256);

    /// @notice Seconds a roll snapshot must stay answerable (the longest a proposal may run).
    function ROLL_SNAPSHOT_LIFETIME() external view returns (uint256);

    /// @notice The number of communities created so far (ids are 1..communityCount).
    function communityCount() external view returns (uint256);

    /// @notice The admin of `communityId` (its creator unless handed over); address(0) if none.
    function communityAdmin(uint256 communityId) external view returns (address);

    /// @notice The account named to take over as admin of `communityId` (address(0): none).
    function pendingAdmin(uint256 communityId) external view returns (address);

    /// @notice Whether `account` currently holds `role` in `communityId`.
    function hasRole(uint256 communityId, bytes32 role, address account) external view returns (bool);

    /// @notice How many accounts currently hold `role` in `communityId`.
    function roleMemberCount(uint256 communityId, bytes32 role) external view returns (uint256);

    /// @notice How many accounts currently hold COMMITTEE in `communityId` (the M of N-of-M).
    function committeeSize(uint256 communityId) external view returns (uint256);

    /// @notice The registration of report key `keyFingerprint` (all zero if it was never registered).
    /// @return communityId The community whose AUDITOR registered it.
    /// @return auditor The auditor who registered it, whose reports it signs.
    /// @return registeredAt The block it was registered in.
    /// @return revokedAt The block it was revoked in (0 while it is in force).
    function auditorKey(bytes32 keyFingerprint)
        external
        view
        returns (uint256 communityId, address auditor, uint256 registeredAt, uint256 revokedAt);

    /// @notice Whether `account` is on the published roll of `communityId` now.
    function isResident(uint256 communityId, address account) external view returns (bool);

    /// @notice Whether `account` was on the roll of `communityId` at published `version`.
    /// @dev Reverts with {RollHistoryPruned} if that part of the account's history was pruned.
    function wasResident(uint256 communityId, address account, uint32 version) external view returns (bool);

    /// @notice The published roll: its version (0 before the first publication) and size.
    function rollSnapshot(uint256 communityId) external view returns (uint32 version, uint32 size);

    /// @notice The roll being staged: its version and its size if published now.
    function pendingRoll(uint256 communityId) external view returns (uint32 version, uint32 size);

    /// @notice When roll `version` of `communityId` was published (unix time; 0 if not yet).
    function rollPublishedAt(uint256 communityId, uint32 version) external view returns (uint256);

    /// @notice The stable index of `account` in `communityId`, assigned on its first addition.
    /// @return assigned Whether the account was ever added.
    /// @return index The index (0-based), meaningful only if `assigned`.
    function residentIndex(uint256 communityId, address account) external view returns (bool assigned, uint32 index);

    /// @notice The key that replaced `account` in `communityId` (address(0) if it was never replaced).
    function newKeyOf(uint256 communityId, address account) external view returns (address);

    /// @notice The raw roll record of `account` in `communityId` (see RollRecord for the layout).
    function rollRecord(uint256 communityId, address account) external view returns (uint256);

    /// @notice Eligibility of one account at a published version, for a direct vote.
    /// @return indexPlusOne The account's index + 1 if it was on the roll at `version`, else 0.
    function rollIndexAt(uint256 communityId, uint32 version, address account)
        external
        view
        returns (uint256 indexPlusOne);

    /// @notice Eligibility of many accounts at one published version, for ballot batches.
    /// @return indexesPlusOne For each account, its index + 1 if it was on the roll at `version`,
    /// else 0 (pruned history also yields 0).
    function rollIndexesAt(uint256 communityId, uint32 version, address[] calldata accounts)
        external
        view
        returns (uint256[] memory indexesPlusOne);
}
