// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IRegistryView
/// @notice The slice of the Registry that CommunityFund and TimeBank read: who administers a
/// community, who holds which role, who is on the resident roll (and which version of it is
/// published), and how big the committee is.
/// @dev A subset of IRegistry, declared here so the fund and time bank compile and depend on no
/// more of the Registry than these views. Role ids are `keccak256("COMMITTEE")`,
/// `keccak256("REGISTRAR")` and `keccak256("COORDINATOR")`.
interface IRegistryView {
    /// @notice The admin of `communityId` (its creator unless handed over); address(0) if none.
    function communityAdmin(uint256 communityId) external view returns (address);

    /// @notice Whether `account` currently holds `role` in `communityId`.
    function hasRole(uint256 communityId, bytes32 role, address account) external view returns (bool);

    /// @notice Whether `account` is on the resident roll of `communityId` now.
    function isResident(uint256 communityId, address account) external view returns (bool);

    /// @notice The published roll of `communityId`: its version (0 before the first publication)
    /// and its size. A published version never changes: staged changes take effect only by
    /// publishing the next one.
    function rollSnapshot(uint256 communityId) external view returns (uint32 version, uint32 size);

    /// @notice The key that replaced `account` in `communityId` (address(0) if it was never replaced).
    function newKeyOf(uint256 communityId, address account) external view returns (address);

    /// @notice How many accounts currently hold the COMMITTEE role in `communityId` (the M of N-of-M).
    function committeeSize(uint256 communityId) external view returns (uint256);
}
