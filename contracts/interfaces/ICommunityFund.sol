// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ICommunityFund
/// @notice A community's fund as a public ledger: income in, grants reserved for passed council
/// proposals and for the projects a participatory budget round selected, and payouts to
/// recipients after N-of-M committee approvals.
/// @dev The money itself sits in an ordinary bank account kept off-chain; this contract moves no
/// tokens. It records, in integer minor units of one currency per community, what came in, what
/// was set aside for which proposal, and what was paid to whom against which invoice, so that
/// nobody can quietly change a figure and anybody can rebuild every balance from the events.
///
/// Every cent can be traced: `IncomeRecorded` (source → fund), `GrantOpened` (fund → grant,
/// naming the proposal), `PayoutRequested`/`PayoutApproved` (the authorisation), and
/// `PayoutExecuted` (grant → recipient, naming the proposal); `GrantClosed` returns what a grant
/// did not pay out to the fund.
///
/// Invariants (docs/invariants.md, "CommunityFund"): for every community
/// `totalIncome == available + reserved + totalPaid`, `reserved` equals the sum over its open
/// grants of `amount - paid`, and no grant ever pays more than its amount.
interface ICommunityFund {
    // ---------------------------------------------------------------- types

    /// @notice Where income came from.
    enum SourceKind {
        GovernmentGrant,
        Donation,
        Company,
        Other
    }

    /// @notice A grant's life: opened for a passed proposal, closed when done (remainder released).
    enum GrantState {
        None,
        Open,
        Closed
    }

    /// @notice A payout request's life. `Lapsed` is never stored: a view reports it for a request
    /// still pending when its grant was closed (it can then only be cancelled).
    enum PayoutStatus {
        None,
        Pending,
        Executed,
        Cancelled,
        Lapsed
    }

    /// @notice A community's fund totals, all in minor units of `currency`.
    struct FundView {
        bytes3 currency;
        /// @dev N of N-of-M (0 until the community admin sets it)
        uint256 approvalThreshold;
        uint256 totalIncome;
        /// @dev income not reserved for any grant: what a new grant can draw on
        uint256 available;
        /// @dev the unpaid remainder of every open grant
        uint256 reserved;
        uint256 totalPaid;
    }

    /// @notice A grant, identified by the proposal it funds (at most one grant per proposal).
    struct GrantView {
        uint256 communityId;
        uint256 amount;
        uint256 paid;
        GrantState state;
    }

    /// @notice A grant the participatory budget's selection asks the fund to open.
    struct BudgetGrant {
        uint256 grantId;
        uint256 amount;
    }

    /// @notice A payout request. Its purpose and invoice hashes are in `PayoutRequested`.
    struct PayoutView {
        uint256 proposalId;
        address recipient;
        uint256 amount;
        address requester;
        PayoutStatus status;
        address[] approvers;
    }

    // ---------------------------------------------------------------- events

    /// @notice The fund of `communityId` keeps its books in `currency` from now on.
    event FundCurrencySet(uint256 indexed communityId, bytes3 currency, address indexed setBy);

    /// @notice Payouts of `communityId` now need `threshold` approvals; the committee had
    /// `committeeSize` members when this was set.
    event ApprovalThresholdSet(
        uint256 indexed communityId, uint256 threshold, uint256 committeeSize, address indexed setBy
    );

    /// @notice Income entered the fund (source → fund). `documentHash` is the hash of the
    /// off-chain document (grant letter, donation receipt, bank statement line).
    event IncomeRecorded(
        uint256 indexed communityId,
        uint256 indexed incomeId,
        SourceKind kind,
        uint256 amount,
        bytes3 currency,
        bytes32 documentHash,
        address indexed recordedBy
    );

    /// @notice `amount` was reserved out of the fund for the passed proposal `proposalId` (fund → grant).
    event GrantOpened(
        uint256 indexed communityId,
        uint256 indexed proposalId,
        uint256 amount,
        bytes3 currency,
        address indexed openedBy
    );

    /// @notice The grant of `proposalId` was closed; its unpaid `released` went back to the fund
    /// (grant → fund) and its pending payout requests lapsed.
    event GrantClosed(
        uint256 indexed communityId, uint256 indexed proposalId, uint256 released, address indexed closedBy
    );

    /// @notice A payout of `amount` to `recipient` from the grant of `proposalId` was requested.
    /// `purposeHash` identifies what it pays for (a milestone, a purchase) and `invoiceHash` the
    /// invoice or receipt it pays.
    event PayoutRequested(
        uint256 indexed communityId,
        uint256 indexed proposalId,
        uint256 indexed requestId,
        address recipient,
        uint256 amount,
        bytes32 purposeHash,
        bytes32 invoiceHash,
        address requester
    );

    /// @notice `approver` approved payout request `requestId`; it now has `approvals` approvals.
    event PayoutApproved(
        uint256 indexed communityId,
        uint256 indexed proposalId,
        uint256 indexed requestId,
        address approver,
        uint256 approvals
    );

    /// @notice Payout request `requestId` was cancelled; it stays visible with status Cancelled.
    event PayoutCancelled(
        uint256 indexed communityId, uint256 indexed proposalId, uint256 indexed requestId, address cancelledBy
    );

    /// @notice `amount` was paid from the grant of `proposalId` to `recipient` (grant → recipient).
    /// `executedBy` attests that the off-chain bank transfer was made.
    event PayoutExecuted(
        uint256 indexed communityId,
        uint256 indexed proposalId,
        uint256 indexed requestId,
        address recipient,
        uint256 amount,
        address executedBy
    );

    // ---------------------------------------------------------------- errors

    /// @notice Only the community admin may do this.
    error NotCommunityAdmin(uint256 communityId, address account);

    /// @notice Only a member of the community's committee may do this.
    error NotCommitteeMember(uint256 communityId, address account);

    /// @notice Amounts must be positive.
    error ZeroAmount();

    /// @notice A single amount may not exceed `max` minor units (storage is packed).
    error AmountTooLarge(uint256 amount, uint256 max);

    /// @notice A currency code must be three upper-case ASCII letters A-Z, as ISO 4217 codes are
    /// (e.g. "CNY"; not "cny", digits or zero bytes). The same rule as a proposal's budget.
    error InvalidCurrency(bytes3 currency);

    /// @notice The fund's currency is fixed once set.
    error CurrencyAlreadySet(uint256 communityId, bytes3 currency);

    /// @notice The fund has no currency yet: record income or set it first.
    error CurrencyNotSet(uint256 communityId);

    /// @notice Every amount of a fund is in its one currency.
    error CurrencyMismatch(uint256 communityId, bytes3 expected, bytes3 given);

    /// @notice The approval threshold must be between 1 and the committee size (and at most 255).
    error InvalidThreshold(uint256 communityId, uint256 threshold, uint256 committeeSize);

    /// @notice The community admin has not set the approval threshold yet.
    error ThresholdNotSet(uint256 communityId);

    /// @notice A grant needs a proposal finalized as Passed (not rejected, no quorum, open or unknown).
    error ProposalNotPassed(uint256 proposalId);

    /// @notice A proposal gets at most one grant.
    error GrantAlreadyOpened(uint256 proposalId);

    /// @notice A grant may not exceed the budget its proposal requested.
    error GrantExceedsBudget(uint256 proposalId, uint256 amount, uint256 budget);

    /// @notice The fund's unreserved balance cannot cover the grant.
    error InsufficientFund(uint256 communityId, uint256 amount, uint256 available);

    /// @notice No grant was opened for this proposal.
    error GrantNotFound(uint256 proposalId);

    /// @notice The grant is closed: no new requests, approvals or payouts.
    error GrantIsClosed(uint256 proposalId);

    /// @notice The grant's unpaid remainder cannot cover the payout.
    error InsufficientGrant(uint256 proposalId, uint256 amount, uint256 remaining);

    /// @notice A payout needs a recipient.
    error InvalidRecipient(address recipient);

    /// @notice No payout request has this id.
    error PayoutNotFound(uint256 requestId);

    /// @notice The payout request was already executed or cancelled.
    error PayoutNotPending(uint256 requestId, PayoutStatus status);

    /// @notice Whoever requested a payout cannot approve it.
    error SelfApproval(uint256 requestId, address approver);

    /// @notice Each committee member approves a request at most once.
    error AlreadyApproved(uint256 requestId, address approver);

    /// @notice Fewer approvals from current committee members than the threshold.
    error NotEnoughApprovals(uint256 requestId, uint256 approvals, uint256 threshold);

    /// @notice Only the requester or the community admin may cancel a payout request.
    error NotRequesterOrAdmin(uint256 requestId, address account);

    /// @notice Only the ParticipatoryBudget contract may open a budget project's grant.
    error NotParticipatoryBudget(address account);

    // ---------------------------------------------------------------- admin

    /// @notice Fix the currency of `communityId`'s fund before its first income. Community admin only.
    function setCurrency(uint256 communityId, bytes3 currency) external;

    /// @notice Set N of N-of-M: how many distinct committee members must approve each payout.
    /// Community admin only; `1 <= threshold <= committeeSize`.
    function setApprovalThreshold(uint256 communityId, uint256 threshold) external;

    // ---------------------------------------------------------------- income and grants

    /// @notice Record income into `communityId`'s fund. Committee members only. The first income
    /// fixes the fund's currency if it was not set.
    /// @return incomeId Sequential id of this income record (from 1, across all communities).
    function recordIncome(
        uint256 communityId,
        SourceKind kind,
        uint256 amount,
        bytes3 currency,
        bytes32 documentHash
    ) external returns (uint256 incomeId);

    /// @notice Reserve `amount` out of the fund for the passed proposal `proposalId`, up to the
    /// budget it requested, in the fund's currency. A committee member of the proposal's community only.
    function openGrant(uint256 proposalId, uint256 amount) external;

    /// @notice Reserve, out of `communityId`'s fund, a grant for each participatory budget project
    /// the on-chain selection chose: `grants[k].amount` as the grant `grants[k].grantId`
    /// (IParticipatoryBudget.grantIdOf: 2**255 | roundId << 8 | index, never a council proposal
    /// id). Only the ParticipatoryBudget contract, which checked the round's currency against the
    /// fund's and never selects more than `available` in total. Emits {GrantOpened} for each, with
    /// the grant id as the proposal id and the budget contract as opener; payouts then use the
    /// grant id as their proposal id.
    function openBudgetGrants(uint256 communityId, BudgetGrant[] calldata grants) external;

    /// @notice Close the grant of `proposalId`: its unpaid remainder returns to the fund and its
    /// pending payout requests can no longer execute. Committee members only.
    function closeGrant(uint256 proposalId) external;

    // ---------------------------------------------------------------- payouts

    /// @notice Ask to pay `amount` of the grant of `proposalId` to `recipient` (one tranche).
    /// Committee members only; the requester cannot approve it.
    /// @return requestId Sequential id of the request (from 1, across all communities).
    function requestPayout(
        uint256 proposalId,
        address recipient,
        uint256 amount,
        bytes32 purposeHash,
        bytes32 invoiceHash
    ) external returns (uint256 requestId);

    /// @notice Approve payout request `requestId`. A committee member other than the requester, once.
    function approvePayout(uint256 requestId) external;

    /// @notice Record that request `requestId` was paid: moves its amount from the grant to the
    /// recipient's column. Needs at least the threshold of approvals from accounts that are
    /// committee members now, an open grant and enough left in it. Committee members only.
    function executePayout(uint256 requestId) external;

    /// @notice Cancel a pending (or lapsed) request; it stays visible with status Cancelled.
    /// The requester or the community admin only.
    function cancelPayout(uint256 requestId) external;

    // ---------------------------------------------------------------- views

    /// @notice The totals of `communityId`'s fund.
    function fundOf(uint256 communityId) external view returns (FundView memory);

    /// @notice The grant of `proposalId` (state None if there is none).
    function grantOf(uint256 proposalId) external view returns (GrantView memory);

    /// @notice Payout request `requestId` (status None if there is none).
    function payoutOf(uint256 requestId) external view returns (PayoutView memory);

    /// @notice Whether `account` approved payout request `requestId`.
    function hasApproved(uint256 requestId, address account) external view returns (bool);

    /// @notice The id the next income record will get minus one (how many there are).
    function incomeCount() external view returns (uint256);

    /// @notice How many payout requests exist (ids run from 1 to this).
    function payoutCount() external view returns (uint256);

    /// @notice The ParticipatoryBudget contract, the only opener of budget project grants.
    function participatoryBudget() external view returns (address);
}
