// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ISecretBallot
/// @notice Secret votes of a community's residents: exponential ElGamal on alt_bn128 under a key
/// that t of the n trustees the committee names generate among themselves on-chain (Pedersen DKG
/// with Feldman commitments and a complaint round), so that no trustee and no committee member
/// alone can open a ballot. Residents' encrypted ballots are relayed in signed batches and added
/// into a running aggregate; anyone may challenge an invalid ballot in a window after the close;
/// trustees then publish proven partial decryptions and anyone finalizes with the tally, which
/// the contract checks against the aggregate.
/// @dev The protocol (encodings, transcripts, proofs) is docs/secret-ballots.md; in short:
/// - Points of G1 are two words (x, y), (0, 0) the point at infinity; scalars are below the group
///   order r. Trustees are numbered 1..n by their place in `SecretVoteParams.trustees`.
/// - DKG, by time: trustees register communication keys before `keysBy`; each deals (Feldman
///   commitments C_i0..C_i(t-1) and one encrypted share for every other trustee) before
///   `dealsBy`; a trustee whose share does not match its dealer's commitments complains before
///   `complaintsBy`; the accused answers with the share in clear before `answersBy`, checked
///   on-chain. Anyone then calls {closeKeyGeneration}: the qualified trustees are those who
///   dealt, were not disqualified and answered every complaint; with at least t of them the
///   election key is Y = Σ C_i0 and trustee k's verification key Y_k = Σ_i Σ_l k^l·C_il, else
///   (or if Y is the point at infinity) the vote fails ({SecretVoteState.KeyFailed}).
/// - A ballot is `words`: for each option j, A_j.x, A_j.y, B_j.x, B_j.y (4 * options words), then
///   the proof c, (c0_j, z0_j, z1_j) for each j, z_s (3 * options + 2 words). The voter signs the
///   EIP-712 struct `SecretBallot(uint256 voteId,address voter,bytes32 ballotHash)`, ballotHash
///   = keccak256(abi.encodePacked(words)), under the domain ("CommonsSecretBallot", "1", chain
///   id, this contract). Ballots' proofs are not checked when cast (the audit checks them all);
///   their ciphertexts are added into the aggregate with ecAdd, which refuses a coordinate not
///   below p or a point off the curve.
/// - Each batch of counted ballots is recorded as one hash: keccak256 of the packed EIP-712
///   struct hashes of its counted ballots, in order ({SecretBatchRecorded}); a challenge names
///   the batch, gives that list and the ballot, and the contract checks the ballot's proofs.
/// - No view shows the aggregate, the ballot count or a partial result before the close; only
///   whether a resident has voted.
interface ISecretBallot {
    // ---------------------------------------------------------------- types

    /// @notice Where a secret vote is in its life (derived from time and what was done).
    /// @dev KeyPending: the answers are closed and nobody has called {closeKeyGeneration} yet.
    /// Challenges: ballots are closed and invalid ones may be challenged. Decryption: trustees
    /// publish partial decryptions until someone finalizes.
    enum SecretVoteState {
        Keys,
        Dealing,
        Complaints,
        Answers,
        KeyPending,
        KeyFailed,
        Pending,
        Open,
        Challenges,
        Decryption,
        Finalized
    }

    /// @notice Why a relayed secret ballot was not counted.
    enum SecretSkipReason {
        SecretVoteNotOpen,
        MalformedBallot,
        BadSignature,
        MalleableSignature,
        NotOnRoll,
        AlreadyVoted,
        InvalidPoint
    }

    /// @notice Why a trustee left the qualified set.
    enum SecretDisqualifyReason {
        NoKey,
        NoDeal,
        BadAnswer,
        NoAnswer
    }

    /// @notice What a committee member gives to open a secret vote. Times are unix seconds and
    /// must satisfy now < keysBy <= dealsBy <= complaintsBy <= answersBy <= opensAt < closesAt
    /// < challengesUntil, closesAt <= now + ROLL_SNAPSHOT_LIFETIME.
    /// @param communityId The community whose roll votes.
    /// @param questionHash keccak256 of the question and its options (kept off-chain).
    /// @param optionCount 2..MAX_SECRET_OPTIONS; a ballot chooses exactly one.
    /// @param trustees 1..MAX_TRUSTEES distinct accounts, numbered 1..n in this order.
    /// @param threshold t, 1..n: how many trustees it takes to decrypt.
    struct SecretVoteParams {
        uint256 communityId;
        bytes32 questionHash;
        uint8 optionCount;
        address[] trustees;
        uint8 threshold;
        uint64 keysBy;
        uint64 dealsBy;
        uint64 complaintsBy;
        uint64 answersBy;
        uint64 opensAt;
        uint64 closesAt;
        uint64 challengesUntil;
    }

    /// @notice A resident's signed ballot as a relayer submits it.
    /// @param voter The resident who signed (must equal the recovered signer).
    /// @param words The ciphertexts then the proof (see the contract's NatSpec).
    /// @param r Signature r.
    /// @param vs Signature s with v's parity in the top bit (EIP-2098 compact form).
    struct SignedSecretBallot {
        address voter;
        uint256[] words;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Everything public about a secret vote.
    /// @param electionKey Y (zero until the key is generated).
    /// @param qualified Bit k set for trustee k (1-based) in the qualified set (once fixed).
    /// @param ballotCount Counted, non-voided ballots: 0 until the close.
    /// @param aggregate For each option, SA.x, SA.y, SB.x, SB.y: all zero until the close.
    /// @param tally The finalized tally (empty until finalized).
    struct SecretVoteView {
        uint256 communityId;
        address opener;
        bytes32 questionHash;
        uint8 optionCount;
        address[] trustees;
        uint8 threshold;
        uint64 keysBy;
        uint64 dealsBy;
        uint64 complaintsBy;
        uint64 answersBy;
        uint64 opensAt;
        uint64 closesAt;
        uint64 challengesUntil;
        uint32 rollVersion;
        uint32 rollSize;
        SecretVoteState state;
        uint256[2] electionKey;
        uint256 qualified;
        uint256 ballotCount;
        uint256[] aggregate;
        uint256[] tally;
    }

    // ---------------------------------------------------------------- events

    /// @notice A secret vote was opened; its roll snapshot is `rollVersion` with `rollSize` residents.
    event SecretVoteOpened(
        uint256 indexed voteId,
        uint256 indexed communityId,
        address indexed opener,
        SecretVoteParams params,
        uint32 rollVersion,
        uint32 rollSize
    );

    /// @notice Trustee `trustee` (1-based) registered its communication key E = (x, y).
    event CommunicationKeyRegistered(uint256 indexed voteId, uint8 indexed trustee, uint256[2] key);

    /// @notice Trustee `dealer` dealt: its Feldman commitments (C_l.x, C_l.y for l = 0..t-1) and
    /// one encrypted share for each trustee 1..n (0 at its own place and for trustees without a key).
    event SharesDealt(uint256 indexed voteId, uint8 indexed dealer, uint256[] commitments, uint256[] encryptedShares);

    /// @notice Trustee `accuser` says the share `dealer` sent it does not match the commitments.
    event DealComplained(uint256 indexed voteId, uint8 indexed dealer, uint8 indexed accuser);

    /// @notice `dealer` revealed the share it owes `accuser`; `valid`: it matched the commitments.
    event ComplaintAnswered(uint256 indexed voteId, uint8 indexed dealer, uint8 indexed accuser, uint256 share, bool valid);

    /// @notice Trustee `trustee` left the qualified set, for `reason`.
    event TrusteeDisqualified(uint256 indexed voteId, uint8 indexed trustee, SecretDisqualifyReason reason);

    /// @notice The key generation closed with the election key `electionKey` and `qualified`
    /// trustees (bit k for trustee k); `verificationKeys` holds Y_k.x, Y_k.y for k = 1..n
    /// (zero for those not qualified).
    event KeyGenerated(uint256 indexed voteId, uint256[2] electionKey, uint256 qualified, uint256[] verificationKeys);

    /// @notice The key generation closed with only `qualifiedCount` qualified trustees, fewer
    /// than the threshold, or with the election key at infinity (the qualified dealers' secrets
    /// cancel out, and every ballot would be in clear): the vote cannot open.
    event KeyGenerationFailed(uint256 indexed voteId, uint256 qualifiedCount);

    /// @notice A ballot was counted; `ballotHash` is keccak256 of its words. Its batch is the one
    /// {SecretBatchRecorded} names later in the same transaction.
    event SecretBallotCast(uint256 indexed voteId, address indexed voter, bytes32 ballotHash);

    /// @notice A relayed ballot was not counted, for `reason`; the rest of its batch went on.
    /// @dev As with the council's skips, anyone can make this name any `voter`: it changes nothing.
    event SecretBallotSkipped(uint256 indexed voteId, address indexed voter, SecretSkipReason reason);

    /// @notice Batch `batch` of `voteId` counted `count` ballots; `batchHash` is keccak256 of
    /// their packed EIP-712 struct hashes in order.
    event SecretBatchRecorded(uint256 indexed voteId, uint256 indexed batch, bytes32 batchHash, uint256 count);

    /// @notice `voter`'s ballot (at `position` of batch `batch`) failed its proofs when
    /// `challenger` challenged it: its ciphertexts left the aggregate and it no longer counts.
    event SecretBallotVoided(
        uint256 indexed voteId, address indexed voter, address indexed challenger, uint256 batch, uint256 position
    );

    /// @notice Trustee `trustee` published its partial decryptions: for each option j, D.x, D.y
    /// and the proof's c, z (4 words per option), each checked on-chain.
    event PartialDecryptionPublished(uint256 indexed voteId, uint8 indexed trustee, uint256[] partials);

    /// @notice The tally was checked against the aggregate and the partial decryptions of
    /// the trustees `used` (bit k for trustee k) and recorded.
    event SecretVoteFinalized(uint256 indexed voteId, uint256[] tally, uint256 used);

    // ---------------------------------------------------------------- errors

    /// @notice No secret vote has id `voteId`.
    error UnknownSecretVote(uint256 voteId);

    /// @notice Only a committee member of `communityId` may do this; `account` is not one.
    error NotCommittee(uint256 communityId, address account);

    /// @notice A secret vote needs 2..MAX_SECRET_OPTIONS options; it was given `count`.
    error InvalidOptionCount(uint256 count);

    /// @notice A secret vote needs 1..MAX_TRUSTEES distinct nonzero trustees and 1 <= threshold
    /// <= trustees; it was given `count` trustees and threshold `threshold`.
    error InvalidTrustees(uint256 count, uint8 threshold);

    /// @notice The schedule breaks now < keysBy <= dealsBy <= complaintsBy <= answersBy <=
    /// opensAt < closesAt < challengesUntil, closesAt <= now + ROLL_SNAPSHOT_LIFETIME.
    error InvalidSecretSchedule(uint256 now);

    /// @notice The community's published roll is empty: nobody could vote.
    error EmptyRoll(uint256 communityId);

    /// @notice Only one of the vote's trustees may do this; `account` is not one.
    error NotTrustee(uint256 voteId, address account);

    /// @notice The step was taken outside its phase: the vote is in `state`.
    error WrongPhase(uint256 voteId, SecretVoteState state);

    /// @notice Trustee `trustee` already did this step.
    error AlreadyDone(uint256 voteId, uint8 trustee);

    /// @notice A point given is not on alt_bn128's G1 (or a coordinate is not below p).
    error InvalidPoint(uint256 x, uint256 y);

    /// @notice Trustee `trustee` registered no communication key: it can neither deal nor receive shares.
    error NoCommunicationKey(uint256 voteId, uint8 trustee);

    /// @notice A deal needs 2 * threshold commitment words and one share per trustee.
    error MalformedDeal(uint256 commitmentWords, uint256 shareCount);

    /// @notice Trustee `dealer` did not deal, or `accuser` is the dealer itself or not a trustee.
    error InvalidComplaint(uint256 voteId, uint8 dealer, uint8 accuser);

    /// @notice `accuser` has no unanswered complaint against `dealer`.
    error NoComplaint(uint256 voteId, uint8 dealer, uint8 accuser);

    /// @notice The ballot's batch list does not hash to the batch recorded, or the ballot is not
    /// at `position` of it.
    error BallotNotInBatch(uint256 voteId, uint256 batch, uint256 position);

    /// @notice The ballot was already voided.
    error BallotAlreadyVoided(uint256 voteId, address voter);

    /// @notice The challenged ballot's proofs are valid: it stays counted.
    error BallotProofsValid(uint256 voteId, address voter);

    /// @notice Only a qualified trustee publishes partial decryptions; trustee `trustee` is not one.
    error NotQualified(uint256 voteId, uint8 trustee);

    /// @notice A partial decryption needs 4 words per option; it was given `count`.
    error MalformedPartials(uint256 count);

    /// @notice Trustee `trustee`'s partial decryption of option `option` failed its proof.
    error InvalidPartialDecryption(uint256 voteId, uint8 trustee, uint256 option);

    /// @notice Finalizing needs `threshold` trustees' partial decryptions; `published` are in.
    error NotEnoughPartials(uint256 voteId, uint256 published, uint8 threshold);

    /// @notice The tally given does not decrypt the aggregate at option `option`, or its sum is
    /// not the `ballotCount` counted ballots (option = optionCount).
    error WrongTally(uint256 voteId, uint256 option, uint256 ballotCount);

    // ---------------------------------------------------------------- actions

    /// @notice Opens a secret vote and snapshots the community's published roll. Committee only
    /// (the committee member may be relayed through the forwarder).
    /// @return voteId Sequential id, from 1.
    function openSecretVote(SecretVoteParams calldata params) external returns (uint256 voteId);

    /// @notice Registers the caller's (a trustee's) communication key E, before `keysBy`.
    function registerCommunicationKey(uint256 voteId, uint256[2] calldata key) external;

    /// @notice The caller (a trustee with a key) deals, between `keysBy` and `dealsBy`:
    /// `commitments` C_l.x, C_l.y for l = 0..t-1 and `encryptedShares` one per trustee 1..n,
    /// enc_k = f(k) + H(TAG_SHARE, chainId, this, voteId, dealer, k, K.x, K.y) mod r.
    function deal(uint256 voteId, uint256[] calldata commitments, uint256[] calldata encryptedShares) external;

    /// @notice The caller (trustee `accuser`) complains against `dealer`, between `dealsBy` and
    /// `complaintsBy`.
    function complain(uint256 voteId, uint8 dealer) external;

    /// @notice The caller (trustee `dealer`) reveals the share `share` it owes `accuser`, before
    /// `answersBy`. The contract checks share·g == Σ_l accuser^l·C_l; if not, the dealer is
    /// disqualified (the transaction does not revert).
    function answer(uint256 voteId, uint8 accuser, uint256 share) external;

    /// @notice Anyone, after `answersBy`: fixes the qualified set, the election key and the
    /// verification keys, or records that too few trustees qualified.
    function closeKeyGeneration(uint256 voteId) external;

    /// @notice Counts many signed ballots on one vote; anyone may relay them.
    /// @dev A ballot breaking a rule emits {SecretBallotSkipped} and the batch goes on. Checked in
    /// this order: the vote is open, the word count, the signature (low s, by `voter`), the roll
    /// at the snapshot, one ballot per resident, every point valid (ecAdd).
    /// @return counted How many ballots were counted.
    function castSecretBallots(uint256 voteId, SignedSecretBallot[] calldata ballots) external returns (uint256 counted);

    /// @notice Anyone, between `closesAt` and `challengesUntil`: checks the proofs of `voter`'s
    /// ballot `words`, at `position` of batch `batch` whose struct hashes are `batchList`; voids
    /// it if they fail, reverts with {BallotProofsValid} if they hold.
    function challenge(
        uint256 voteId,
        uint256 batch,
        bytes32[] calldata batchList,
        uint256 position,
        address voter,
        uint256[] calldata words
    ) external;

    /// @notice A qualified trustee, after `challengesUntil`: its partial decryption of every
    /// option's aggregate, D_j = x_k·SA_j, with its proof: D_j.x, D_j.y, c_j, z_j per option.
    function publishPartialDecryption(uint256 voteId, uint256[] calldata partials) external;

    /// @notice Anyone, once `threshold` qualified trustees published: checks `tally` against
    /// the aggregate with the partials of the first `threshold` of them (by number) and records it.
    function finalizeSecretVote(uint256 voteId, uint256[] calldata tally) external;

    // ---------------------------------------------------------------- views

    /// @notice The most options a secret vote may have.
    function MAX_SECRET_OPTIONS() external view returns (uint8);

    /// @notice The most trustees a secret vote may have.
    function MAX_TRUSTEES() external view returns (uint8);

    /// @notice keccak256("SecretBallot(uint256 voteId,address voter,bytes32 ballotHash)").
    function SECRET_BALLOT_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The Registry whose rolls and roles these votes use.
    function registry() external view returns (address);

    /// @notice The number of secret votes opened so far (ids are 1..secretVoteCount).
    function secretVoteCount() external view returns (uint256);

    /// @notice Everything public about `voteId` (see {SecretVoteView}).
    function getSecretVote(uint256 voteId) external view returns (SecretVoteView memory);

    /// @notice The state of `voteId`.
    function secretVoteState(uint256 voteId) external view returns (SecretVoteState);

    /// @notice Whether `voter` has a ballot counted (or voided) on `voteId`.
    function hasVotedSecretly(uint256 voteId, address voter) external view returns (bool);

    /// @notice The hash recorded for batch `batch` (zero if none).
    function batchHash(uint256 voteId, uint256 batch) external view returns (bytes32);

    /// @notice The EIP-712 digest a voter signs for a ballot whose words hash to `ballotHash`.
    function secretBallotDigest(uint256 voteId, address voter, bytes32 ballotHash) external view returns (bytes32);
}
