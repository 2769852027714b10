// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";

import {ICommunityFund} from "./interfaces/ICommunityFund.sol";
import {ICouncilView} from "./interfaces/ICouncilView.sol";
import {IParticipatoryBudget} from "./interfaces/IParticipatoryBudget.sol";
import {IRegistryView} from "./interfaces/IRegistryView.sol";
import {CurrencyCode} from "./libraries/CurrencyCode.sol";

/// @title CommunityFund
/// @notice The books of each community's fund: income, grants for passed proposals, and payouts
/// after N-of-M committee approvals.
/// @dev A ledger, not a vault: no token or ether moves. The money is in a bank account kept
/// off-chain; executing a payout records that the committee paid it. See ICommunityFund.
contract CommunityFund is ICommunityFund, ERC2771Context {
    bytes32 private constant COMMITTEE = keccak256("COMMITTEE");
    uint256 private constant MAX_AMOUNT = type(uint96).max;
    uint256 private constant MAX_THRESHOLD = type(uint8).max;

    struct Fund {
        uint128 available;
        uint128 reserved;
        uint128 totalIncome;
        uint128 totalPaid;
        bytes3 currency;
        uint8 threshold;
    }

    /// @dev One word: opening a grant writes one fresh slot (22,100 gas), which keeps the
    /// selection of a 256-project budget round, 256 grants, in one transaction (bench/gas_budget.py).
    /// An amount is at most MAX_AMOUNT (2^96 - 1) and `paid` never exceeds it; community ids are
    /// the Registry's, sequential from 1, far below 2^56.
    struct Grant {
        uint96 amount;
        uint96 paid;
        uint56 communityId;
        GrantState state;
    }

    struct Payout {
        uint256 proposalId;
        address recipient;
        uint96 amount;
        address requester;
        PayoutStatus status;
        uint16 approvalCount;
    }

    IRegistryView private immutable _registry;
    ICouncilView private immutable _council;
    /// @dev Trusted as the Council trusts Initiatives: it opens grants for the projects its
    /// on-chain selection chose, checked there (see IParticipatoryBudget).
    IParticipatoryBudget private immutable _participatoryBudget;

    mapping(uint256 communityId => Fund) private _funds;
    mapping(uint256 proposalId => Grant) private _grants;
    mapping(uint256 requestId => Payout) private _payouts;
    mapping(uint256 requestId => mapping(uint256 index => address)) private _approvers;
    uint256 private _incomeCount;
    uint256 private _payoutCount;

    /// @notice Wires the fund to its forwarder, to the Registry it reads roles from, to the
    /// Council whose passed proposals open its grants and to the ParticipatoryBudget whose
    /// selected projects do.
    /// @param trustedForwarder The ERC-2771 forwarder allowed to relay signed requests.
    /// @param registry_ The Registry holding communities and roles.
    /// @param council_ The Council whose proposals' budgets become grants.
    /// @param participatoryBudget_ The ParticipatoryBudget whose selected projects become grants.
    constructor(address trustedForwarder, address registry_, address council_, address participatoryBudget_)
        ERC2771Context(trustedForwarder)
    {
        _registry = IRegistryView(registry_);
        _council = ICouncilView(council_);
        _participatoryBudget = IParticipatoryBudget(participatoryBudget_);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc ICommunityFund
    function setCurrency(uint256 communityId, bytes3 currency) external {
        address sender = _msgSender();
        _requireAdmin(communityId, sender);
        _requireCurrencyCode(currency);
        Fund storage fund = _funds[communityId];
        if (fund.currency != bytes3(0)) revert CurrencyAlreadySet(communityId, fund.currency);
        fund.currency = currency;
        emit FundCurrencySet(communityId, currency, sender);
    }

    /// @inheritdoc ICommunityFund
    function setApprovalThreshold(uint256 communityId, uint256 threshold) external {
        address sender = _msgSender();
        _requireAdmin(communityId, sender);
        uint256 size = _registry.committeeSize(communityId);
        if (threshold == 0 || threshold > size || threshold > MAX_THRESHOLD) {
            revert InvalidThreshold(communityId, threshold, size);
        }
        _funds[communityId].threshold = uint8(threshold);
        emit ApprovalThresholdSet(communityId, threshold, size, sender);
    }

    // ---------------------------------------------------------------- income and grants

    /// @inheritdoc ICommunityFund
    function recordIncome(
        uint256 communityId,
        SourceKind kind,
        uint256 amount,
        bytes3 currency,
        bytes32 documentHash
    ) external returns (uint256 incomeId) {
        address sender = _msgSender();
        _requireCommittee(communityId, sender);
        _requireAmount(amount);
        _requireCurrencyCode(currency);
        Fund storage fund = _funds[communityId];
        bytes3 current = fund.currency;
        if (current == bytes3(0)) {
            fund.currency = currency;
            emit FundCurrencySet(communityId, currency, sender);
        } else if (current != currency) {
            revert CurrencyMismatch(communityId, current, currency);
        }
        fund.totalIncome += uint128(amount);
        fund.available += uint128(amount);
        incomeId = ++_incomeCount;
        emit IncomeRecorded(communityId, incomeId, kind, amount, currency, documentHash, sender);
    }

    /// @inheritdoc ICommunityFund
    function openGrant(uint256 proposalId, uint256 amount) external {
        address sender = _msgSender();
        (uint256 communityId, bool passed, uint256 budget, bytes3 budgetCurrency) = _council.budgetOf(proposalId);
        // Rejected, no-quorum, still-open and unknown proposals all read as not passed.
        if (!passed) revert ProposalNotPassed(proposalId);
        _requireCommittee(communityId, sender);
        Grant storage grant = _grants[proposalId];
        if (grant.state != GrantState.None) revert GrantAlreadyOpened(proposalId);
        _requireAmount(amount);
        if (amount > budget) revert GrantExceedsBudget(proposalId, amount, budget);
        Fund storage fund = _funds[communityId];
        bytes3 currency = fund.currency;
        if (currency == bytes3(0)) revert CurrencyNotSet(communityId);
        if (budgetCurrency != currency) revert CurrencyMismatch(communityId, currency, budgetCurrency);
        if (amount > fund.available) revert InsufficientFund(communityId, amount, fund.available);

        _reserve(fund, grant, communityId, amount);
        emit GrantOpened(communityId, proposalId, amount, currency, sender);
    }

    /// @inheritdoc ICommunityFund
    function openBudgetGrants(uint256 communityId, BudgetGrant[] calldata grants) external {
        // Called by the contract itself, never relayed: msg.sender, not _msgSender().
        if (msg.sender != address(_participatoryBudget)) revert NotParticipatoryBudget(msg.sender);
        Fund storage fund = _funds[communityId];
        bytes3 currency = fund.currency;
        uint256 total = 0;
        for (uint256 k; k < grants.length; ++k) {
            (uint256 grantId, uint256 amount) = (grants[k].grantId, grants[k].amount);
            Grant storage grant = _grants[grantId];
            if (grant.state != GrantState.None) revert GrantAlreadyOpened(grantId);
            _requireAmount(amount);
            total += amount;
            _fill(grant, communityId, amount);
            emit GrantOpened(communityId, grantId, amount, currency, msg.sender);
        }
        // The fund's totals are written once for the whole selection.
        if (total > fund.available) revert InsufficientFund(communityId, total, fund.available);
        fund.available -= uint128(total);
        fund.reserved += uint128(total);
    }

    /// @inheritdoc ICommunityFund
    function closeGrant(uint256 proposalId) external {
        address sender = _msgSender();
        Grant storage grant = _openGrant(proposalId);
        uint256 communityId = grant.communityId;
        _requireCommittee(communityId, sender);
        uint128 released = grant.amount - grant.paid;
        grant.state = GrantState.Closed;
        Fund storage fund = _funds[communityId];
        fund.reserved -= released;
        fund.available += released;
        emit GrantClosed(communityId, proposalId, released, sender);
    }

    // ---------------------------------------------------------------- payouts

    /// @inheritdoc ICommunityFund
    function requestPayout(
        uint256 proposalId,
        address recipient,
        uint256 amount,
        bytes32 purposeHash,
        bytes32 invoiceHash
    ) external returns (uint256 requestId) {
        address sender = _msgSender();
        Grant storage grant = _openGrant(proposalId);
        uint256 communityId = grant.communityId;
        _requireCommittee(communityId, sender);
        if (_funds[communityId].threshold == 0) revert ThresholdNotSet(communityId);
        if (recipient == address(0)) revert InvalidRecipient(recipient);
        _requireAmount(amount);
        uint256 remaining = grant.amount - grant.paid;
        // Checked again at execution: other requests may be paid from the grant in between.
        if (amount > remaining) revert InsufficientGrant(proposalId, amount, remaining);

        requestId = ++_payoutCount;
        Payout storage payout = _payouts[requestId];
        payout.proposalId = proposalId;
        payout.recipient = recipient;
        payout.amount = uint96(amount);
        payout.requester = sender;
        payout.status = PayoutStatus.Pending;
        emit PayoutRequested(communityId, proposalId, requestId, recipient, amount, purposeHash, invoiceHash, sender);
    }

    /// @inheritdoc ICommunityFund
    function approvePayout(uint256 requestId) external {
        address sender = _msgSender();
        Payout storage payout = _pendingPayout(requestId);
        uint256 proposalId = payout.proposalId;
        uint256 communityId = _openGrant(proposalId).communityId;
        _requireCommittee(communityId, sender);
        if (sender == payout.requester) revert SelfApproval(requestId, sender);
        uint256 count = payout.approvalCount;
        if (_approvedBy(requestId, count, sender)) revert AlreadyApproved(requestId, sender);

        _approvers[requestId][count] = sender;
        // Each approver is a distinct committee member: far fewer than 2^16.
        payout.approvalCount = uint16(count + 1);
        emit PayoutApproved(communityId, proposalId, requestId, sender, count + 1);
    }

    /// @inheritdoc ICommunityFund
    function executePayout(uint256 requestId) external {
        address sender = _msgSender();
        Payout storage payout = _pendingPayout(requestId);
        uint256 proposalId = payout.proposalId;
        Grant storage grant = _openGrant(proposalId);
        uint256 communityId = grant.communityId;
        _requireCommittee(communityId, sender);
        Fund storage fund = _funds[communityId];
        uint256 threshold = fund.threshold;
        // An approval counts only while its approver is still on the committee.
        uint256 valid = _currentApprovals(communityId, requestId, payout.approvalCount);
        if (valid < threshold) revert NotEnoughApprovals(requestId, valid, threshold);
        uint96 amount = payout.amount;
        uint128 remaining = grant.amount - grant.paid;
        if (amount > remaining) revert InsufficientGrant(proposalId, amount, remaining);

        payout.status = PayoutStatus.Executed;
        grant.paid += amount;
        fund.reserved -= amount;
        fund.totalPaid += amount;
        emit PayoutExecuted(communityId, proposalId, requestId, payout.recipient, amount, sender);
    }

    /// @inheritdoc ICommunityFund
    function cancelPayout(uint256 requestId) external {
        address sender = _msgSender();
        Payout storage payout = _pendingPayout(requestId);
        uint256 proposalId = payout.proposalId;
        uint256 communityId = _grants[proposalId].communityId;
        if (sender != payout.requester && sender != _registry.communityAdmin(communityId)) {
            revert NotRequesterOrAdmin(requestId, sender);
        }
        payout.status = PayoutStatus.Cancelled;
        emit PayoutCancelled(communityId, proposalId, requestId, sender);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ICommunityFund
    function fundOf(uint256 communityId) external view returns (FundView memory) {
        Fund storage fund = _funds[communityId];
        return FundView({
            currency: fund.currency,
            approvalThreshold: fund.threshold,
            totalIncome: fund.totalIncome,
            available: fund.available,
            reserved: fund.reserved,
            totalPaid: fund.totalPaid
        });
    }

    /// @inheritdoc ICommunityFund
    function grantOf(uint256 proposalId) external view returns (GrantView memory) {
        Grant storage grant = _grants[proposalId];
        return GrantView({communityId: grant.communityId, amount: grant.amount, paid: grant.paid, state: grant.state});
    }

    /// @inheritdoc ICommunityFund
    function payoutOf(uint256 requestId) external view returns (PayoutView memory view_) {
        Payout storage payout = _payouts[requestId];
        uint256 count = payout.approvalCount;
        address[] memory approvers = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            approvers[i] = _approvers[requestId][i];
        }
        PayoutStatus status = payout.status;
        if (status == PayoutStatus.Pending && _grants[payout.proposalId].state == GrantState.Closed) {
            status = PayoutStatus.Lapsed;
        }
        view_ = PayoutView({
            proposalId: payout.proposalId,
            recipient: payout.recipient,
            amount: payout.amount,
            requester: payout.requester,
            status: status,
            approvers: approvers
        });
    }

    /// @inheritdoc ICommunityFund
    function hasApproved(uint256 requestId, address account) external view returns (bool) {
        return _approvedBy(requestId, _payouts[requestId].approvalCount, account);
    }

    /// @inheritdoc ICommunityFund
    function incomeCount() external view returns (uint256) {
        return _incomeCount;
    }

    /// @inheritdoc ICommunityFund
    function payoutCount() external view returns (uint256) {
        return _payoutCount;
    }

    /// @notice The Registry this fund reads roles from.
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @notice The Council whose passed proposals this fund's grants serve.
    function council() external view returns (address) {
        return address(_council);
    }

    /// @inheritdoc ICommunityFund
    function participatoryBudget() external view returns (address) {
        return address(_participatoryBudget);
    }

    // ---------------------------------------------------------------- internals

    function _requireAdmin(uint256 communityId, address account) private view {
        if (account == address(0) || _registry.communityAdmin(communityId) != account) {
            revert NotCommunityAdmin(communityId, account);
        }
    }

    function _requireCommittee(uint256 communityId, address account) private view {
        if (!_registry.hasRole(communityId, COMMITTEE, account)) revert NotCommitteeMember(communityId, account);
    }

    function _requireAmount(uint256 amount) private pure {
        if (amount == 0) revert ZeroAmount();
        if (amount > MAX_AMOUNT) revert AmountTooLarge(amount, MAX_AMOUNT);
    }

    function _requireCurrencyCode(bytes3 currency) private pure {
        if (!CurrencyCode.isValid(currency)) revert InvalidCurrency(currency);
    }

    /// @dev Moves `amount` (checked: positive, at most MAX_AMOUNT and the fund's available) from
    /// the fund's available balance into the new grant.
    function _reserve(Fund storage fund, Grant storage grant, uint256 communityId, uint256 amount) private {
        fund.available -= uint128(amount);
        fund.reserved += uint128(amount);
        _fill(grant, communityId, amount);
    }

    /// @dev Writes a new open grant of `amount` (checked: positive, at most MAX_AMOUNT).
    function _fill(Grant storage grant, uint256 communityId, uint256 amount) private {
        grant.amount = uint96(amount);
        grant.communityId = uint56(communityId);
        grant.state = GrantState.Open;
    }

    function _openGrant(uint256 proposalId) private view returns (Grant storage grant) {
        grant = _grants[proposalId];
        GrantState state = grant.state;
        if (state == GrantState.None) revert GrantNotFound(proposalId);
        if (state == GrantState.Closed) revert GrantIsClosed(proposalId);
    }

    function _pendingPayout(uint256 requestId) private view returns (Payout storage payout) {
        payout = _payouts[requestId];
        PayoutStatus status = payout.status;
        if (status == PayoutStatus.None) revert PayoutNotFound(requestId);
        if (status != PayoutStatus.Pending) revert PayoutNotPending(requestId, status);
    }

    function _approvedBy(uint256 requestId, uint256 count, address account) private view returns (bool) {
        for (uint256 i = 0; i < count; ++i) {
            if (_approvers[requestId][i] == account) return true;
        }
        return false;
    }

    function _currentApprovals(uint256 communityId, uint256 requestId, uint256 count)
        private
        view
        returns (uint256 valid)
    {
        for (uint256 i = 0; i < count; ++i) {
            if (_registry.hasRole(communityId, COMMITTEE, _approvers[requestId][i])) ++valid;
        }
    }
}
