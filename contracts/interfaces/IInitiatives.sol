// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IInitiatives
/// @notice Resident initiatives: any resident puts an item on the council's agenda, other
/// residents co-sign it, and at the community's threshold it becomes a council proposal by itself.
/// @dev An initiative snapshots the community's published roll when it is submitted; only residents
/// on that roll version count, one co-signature each (judged by their stable roll index, as the
/// Council judges ballots). Residents sign EIP-712 co-signatures
/// `CoSignature(uint256 initiativeId,address signer)` under the domain ("CommonsInitiatives", "1",
/// chain id, this contract); anyone may relay many in one transaction, and one that breaks a rule is
/// skipped with a {CoSignatureSkipped} reason instead of reverting the batch. The threshold is a
/// share of the snapshot's roll size set by the community's admin ({InitiativeRulesSet}), copied
/// into each initiative when it is submitted, as are the voting rules of the proposal it may
/// become: changing the rules later never moves an initiative already collecting. The relayed batch
/// whose co-signatures reach the threshold opens the council proposal in the same transaction,
/// through the Council's trust in this contract (fixed at deployment): no committee member takes
/// part, so none can hold it back. An initiative that misses the threshold within its window is
/// Expired and stays readable, with its count.
interface IInitiatives {
    // ---------------------------------------------------------------- types

    /// @notice Where an initiative is in its life.
    /// @dev Collecting: co-signatures accepted (before `closesAt`). Promoted: the threshold was
    /// reached and the council proposal `proposalId` opened. Expired: the window closed first.
    enum InitiativeState {
        Collecting,
        Promoted,
        Expired
    }

    /// @notice Why a relayed co-signature was not counted.
    enum CoSignatureSkipReason {
        InitiativeNotCollecting,
        BadSignature,
        MalleableSignature,
        NotOnRoll,
        AlreadyCoSigned
    }

    /// @notice A community's initiative rules, set by its admin.
    /// @param thresholdBps Co-signatures needed, in basis points of the roll size at the
    /// initiative's snapshot (rounded up, at least one): 1..10000.
    /// @param signingPeriod Seconds an initiative collects co-signatures after it is submitted.
    /// @param votingPeriod Seconds the council proposal it becomes is open for ballots.
    /// @param quorumBps That proposal's quorum (see ICouncil.ProposalParams): 0..10000.
    /// @param passBps That proposal's pass threshold, yes of yes + no: 5000..9999.
    struct InitiativeRules {
        uint16 thresholdBps;
        uint32 signingPeriod;
        uint32 votingPeriod;
        uint16 quorumBps;
        uint16 passBps;
    }

    /// @notice A resident's signed co-signature as a relayer submits it.
    /// @param signer The resident who signed (must equal the recovered signer).
    /// @param r Signature r.
    /// @param vs Signature s with v's parity in the top bit (EIP-2098 compact form).
    struct SignedCoSignature {
        address signer;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Everything known about an initiative.
    /// @param needed Co-signatures that promote it (from the rules and roll size at submission).
    /// @param proposalId The council proposal it became (0 unless Promoted).
    struct InitiativeView {
        uint256 communityId;
        address author;
        bytes32 textHash;
        uint128 budgetAmount;
        bytes3 budgetCurrency;
        uint32 rollVersion;
        uint32 rollSize;
        uint32 needed;
        uint32 coSignatures;
        uint64 opensAt;
        uint64 closesAt;
        InitiativeRules rules;
        InitiativeState state;
        uint256 proposalId;
    }

    // ---------------------------------------------------------------- events

    /// @notice The admin of `communityId` set its initiative rules (they apply to initiatives
    /// submitted from now on).
    event InitiativeRulesSet(uint256 indexed communityId, InitiativeRules rules, address indexed setBy);

    /// @notice `author` submitted an initiative; it collects co-signatures until `closesAt`.
    /// @param rollVersion The published roll version whose residents may co-sign.
    /// @param needed Co-signatures that promote it.
    /// @param rules The community's rules at submission, kept by the initiative.
    event InitiativeSubmitted(
        uint256 indexed initiativeId,
        uint256 indexed communityId,
        address indexed author,
        bytes32 textHash,
        uint128 budgetAmount,
        bytes3 budgetCurrency,
        uint32 rollVersion,
        uint32 rollSize,
        uint32 needed,
        uint64 closesAt,
        InitiativeRules rules
    );

    /// @notice A co-signature was counted.
    /// @param digest The EIP-712 digest of CoSignature(initiativeId, signer): what the resident signed.
    event CoSigned(uint256 indexed initiativeId, address indexed signer, bytes32 digest);

    /// @notice A relayed co-signature was not counted, for `reason`; the rest of its batch went on.
    /// @dev As with the Council's BallotSkipped, anyone can make this name any `signer`: it is
    /// not evidence that the signer did anything, and it changes nothing.
    event CoSignatureSkipped(uint256 indexed initiativeId, address indexed signer, CoSignatureSkipReason reason);

    /// @notice The initiative reached its threshold with `coSignatures` and became council
    /// proposal `proposalId` (whose ProposalOpened names this contract as proposer).
    event InitiativePromoted(uint256 indexed initiativeId, uint256 indexed proposalId, uint32 coSignatures);

    // ---------------------------------------------------------------- errors

    /// @notice No initiative has id `initiativeId`.
    error UnknownInitiative(uint256 initiativeId);

    /// @notice Only the community's admin may do this; `account` is not it.
    error NotCommunityAdmin(uint256 communityId, address account);

    /// @notice Rules need thresholdBps 1..10000, signing and voting periods 1..ROLL_SNAPSHOT_LIFETIME
    /// seconds, quorumBps <= 10000 and passBps 5000..9999.
    error InvalidInitiativeRules(InitiativeRules rules);

    /// @notice `communityId`'s admin has not set initiative rules yet.
    error InitiativesNotEnabled(uint256 communityId);

    /// @notice `author` is not on the published roll `rollVersion` of `communityId`.
    error AuthorNotOnRoll(uint256 communityId, address author, uint32 rollVersion);

    /// @notice An initiative needs the hash of its text.
    error MissingTextHash();

    /// @notice A budget needs a currency code of three upper-case ASCII letters A-Z (ISO 4217).
    error InvalidBudget(uint128 amount, bytes3 currency);

    /// @notice Initiative ids are limited to 32 bits (they tag co-signer bitmap words).
    error TooManyInitiatives();

    /// @notice `initiativeId` stopped collecting and its co-signer bitmap now serves a later
    /// initiative: who co-signed it is in its {CoSigned} events (and its count is unaffected).
    error CoSignerBitmapRecycled(uint256 initiativeId);

    /// @notice The Council opened another proposal id than `expected` for `initiativeId` (it never
    /// does: proposals are numbered in order); the batch is reverted.
    error PromotionMismatch(uint256 initiativeId, uint256 expected);

    // ---------------------------------------------------------------- actions

    /// @notice Sets `communityId`'s initiative rules. Admin only.
    function setRules(uint256 communityId, InitiativeRules calldata rules) external;

    /// @notice Submits an initiative as the caller (who may be relayed through the forwarder),
    /// a resident on the published roll, and snapshots that roll.
    /// @dev An initiative that gets a bitmap never written (a community's first ones, or one past
    /// the shared bitmaps) primes it: one word per 224 residents, up to 64 (~22,100 gas each), so
    /// that no relayed co-signature pays for a first write (bench/results/gas_initiatives.md).
    /// @param textHash keccak256 of the initiative's full text (kept off-chain).
    /// @param budgetAmount Requested budget in integer minor units (0 = none).
    /// @param budgetCurrency ISO 4217 code (required with a budget).
    /// @return initiativeId Sequential id, from 1.
    function submit(uint256 communityId, bytes32 textHash, uint128 budgetAmount, bytes3 budgetCurrency)
        external
        returns (uint256 initiativeId);

    /// @notice Counts many signed co-signatures on one initiative; anyone may relay them. The batch
    /// that reaches the threshold opens the council proposal (see {InitiativePromoted}).
    /// @dev A co-signature breaking a rule emits {CoSignatureSkipped} and the batch goes on.
    /// @return counted How many co-signatures were counted.
    function coSign(uint256 initiativeId, SignedCoSignature[] calldata coSignatures) external returns (uint256 counted);

    // ---------------------------------------------------------------- views

    /// @notice keccak256("CoSignature(uint256 initiativeId,address signer)").
    function COSIGNATURE_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The Registry whose rolls and admins this contract uses.
    function registry() external view returns (address);

    /// @notice The Council that opens the proposals initiatives become.
    function council() external view returns (address);

    /// @notice `communityId`'s initiative rules (all zero until its admin sets them).
    function rulesOf(uint256 communityId) external view returns (InitiativeRules memory);

    /// @notice The number of initiatives submitted so far (ids are 1..initiativeCount).
    function initiativeCount() external view returns (uint256);

    /// @notice Everything known about `initiativeId`.
    function getInitiative(uint256 initiativeId) external view returns (InitiativeView memory);

    /// @notice Whether `signer` has a co-signature counted on `initiativeId`.
    /// @dev Reverts with {CoSignerBitmapRecycled} once a later initiative took over its bitmap.
    function hasCoSigned(uint256 initiativeId, address signer) external view returns (bool);

    /// @notice The EIP-712 digest a resident signs to co-sign `initiativeId`.
    function coSignatureDigest(uint256 initiativeId, address signer) external view returns (bytes32);
}
