// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ICouncilView
/// @notice The slice of the Council that CommunityFund reads: a proposal's outcome and the
/// budget it requested.
/// @dev A subset of ICouncil, declared here so the fund depends on no more of the Council than this.
interface ICouncilView {
    /// @notice The budget a proposal requested and whether it was finalized as Passed.
    /// @return communityId The proposal's community (0 if there is no such proposal).
    /// @return passed True only once the proposal has been finalized with outcome Passed.
    /// @return amount The requested budget in integer minor units (0 if none was requested).
    /// @return currency The budget's ISO 4217 currency code, e.g. "CNY".
    function budgetOf(uint256 proposalId)
        external
        view
        returns (uint256 communityId, bool passed, uint256 amount, bytes3 currency);
}
