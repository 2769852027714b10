// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IRatings
/// @notice Residents rate the result of a passed proposal once its execution is marked
/// completed, or of a funded participatory-budget project once its execution is recorded as
/// completed: a score of 1 to 5 and an optional comment hash, signed and relayed, one rating per
/// resident, within a window. The count and the sum of the scores are on-chain and public.
/// @dev What is rated is named by one id, `proposalId` throughout (the signed type keeps the
/// name): a council proposal's id, or a budget project's `2^255 | roundId << 8 | index` — the id
/// of the CommunityFund grant that funds it (IParticipatoryBudget.grantIdOf), so the two never
/// meet. A proposal's ratings open with the first batch relayed for it after the Council reports
/// its execution Completed ({RatingsOpened}): that batch snapshots the community's published roll,
/// and only its residents rate, each once (judged by stable roll index), until `closesAt`
/// (RATING_PERIOD later). Residents sign EIP-712 ratings
/// `Rating(uint256 proposalId,address rater,uint8 score,bytes32 commentHash)` under the domain
/// ("CommonsRatings", "1", chain id, this contract); one that breaks a rule is skipped with a
/// {RatingSkipped} reason instead of reverting the batch.
interface IRatings {
    // ---------------------------------------------------------------- types

    /// @notice Why a relayed rating was not counted.
    enum RatingSkipReason {
        RatingsClosed,
        InvalidScore,
        BadSignature,
        MalleableSignature,
        NotOnRoll,
        AlreadyRated
    }

    /// @notice A resident's signed rating as a relayer submits it.
    /// @param rater The resident who signed (must equal the recovered signer).
    /// @param score 1 (poor) to 5 (excellent).
    /// @param commentHash keccak256 of a comment kept off-chain (zero: none).
    /// @param r Signature r.
    /// @param vs Signature s with v's parity in the top bit (EIP-2098 compact form).
    struct SignedRating {
        address rater;
        uint8 score;
        bytes32 commentHash;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A proposal's ratings so far (all zero before they open).
    /// @param average The mean score times 100, rounded down (0 with no ratings).
    struct RatingSummary {
        uint256 communityId;
        uint32 rollVersion;
        uint32 rollSize;
        uint64 closesAt;
        uint32 count;
        uint64 scoreSum;
        uint256 average;
    }

    // ---------------------------------------------------------------- events

    /// @notice Ratings of `proposalId` opened: residents of roll `rollVersion` rate until `closesAt`.
    event RatingsOpened(
        uint256 indexed proposalId, uint256 indexed communityId, uint32 rollVersion, uint32 rollSize, uint64 closesAt
    );

    /// @notice A rating was counted.
    /// @param digest The EIP-712 digest of the Rating the resident signed.
    event Rated(uint256 indexed proposalId, address indexed rater, uint8 score, bytes32 commentHash, bytes32 digest);

    /// @notice A relayed rating was not counted, for `reason`; the rest of its batch went on.
    /// @dev Anyone can make this name any `rater`: it is not evidence that the rater did anything.
    event RatingSkipped(uint256 indexed proposalId, address indexed rater, RatingSkipReason reason);

    // ---------------------------------------------------------------- errors

    /// @notice Only a passed proposal whose execution the committee marked Completed is rated;
    /// `proposalId` is not one (unknown, not passed, or not completed yet).
    error ProposalNotCompleted(uint256 proposalId);

    /// @notice Only a selected budget project whose execution a milestone recorded as completed
    /// is rated; project `index` of round `roundId` is not one (unknown or not completed yet).
    error ProjectNotCompleted(uint256 roundId, uint256 index);

    // ---------------------------------------------------------------- actions

    /// @notice Counts many signed ratings of one completed proposal; anyone may relay them. The
    /// first batch for a proposal opens its ratings ({RatingsOpened}).
    /// @dev A rating breaking a rule emits {RatingSkipped} and the batch goes on.
    /// @return counted How many ratings were counted.
    function rate(uint256 proposalId, SignedRating[] calldata ratings) external returns (uint256 counted);

    // ---------------------------------------------------------------- views

    /// @notice keccak256("Rating(uint256 proposalId,address rater,uint8 score,bytes32 commentHash)").
    function RATING_TYPEHASH() external view returns (bytes32);

    /// @notice How long ratings stay open after the first batch (seconds).
    function RATING_PERIOD() external view returns (uint256);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The Registry whose rolls this contract uses.
    function registry() external view returns (address);

    /// @notice The Council whose completed proposals are rated.
    function council() external view returns (address);

    /// @notice The ParticipatoryBudget whose completed projects are rated.
    function budget() external view returns (address);

    /// @notice `proposalId`'s ratings: count, sum, average and the snapshot they are judged at.
    function ratingsOf(uint256 proposalId) external view returns (RatingSummary memory);

    /// @notice Whether `rater` has a rating counted on `proposalId`.
    function hasRated(uint256 proposalId, address rater) external view returns (bool);

    /// @notice The EIP-712 digest a resident signs for this rating.
    function ratingDigest(uint256 proposalId, address rater, uint8 score, bytes32 commentHash)
        external
        view
        returns (bytes32);
}
