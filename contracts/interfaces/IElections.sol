// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IElections
/// @notice Ranked (instant-runoff, sequential for several seats) and approval elections of a
/// community's residents, with signed ballots relayed in batches and the result counted on-chain
/// from the ballots this contract holds, step by step, by anyone.
/// @dev Eligibility is judged on the community's roll as published when the election was opened
/// (see IRegistry). Residents sign EIP-712 ballots `ElectionBallot(uint256 electionId,address voter,uint64 choices)`
/// under the domain ("CommonsElections", "1", chain id, this contract), so a signature cannot be
/// replayed on another election, contract or chain; anyone may relay many in one transaction,
/// and a ballot that breaks a rule is skipped with a {ElectionBallotSkipped} reason instead of reverting
/// the batch. Every counted ballot is an entry of the call's {ElectionBallotsCast}: a resident's
/// receipt is (tx hash, election id, voter, choices), and its digest is `ballotDigest(electionId, voter, choices)`.
///
/// Ballot encoding (`choices`, 64 bits):
/// - Ranked: 16 nibbles, low first; nibble k is the candidate (0-based index) ranked k + 1.
///   A ranking of r < 16 candidates repeats its last candidate in nibbles r..15, so the ranking
///   ends where a nibble repeats its predecessor: [1, 3, 2] is 0x2222222222222231, [2, 0] is
///   0x0000000000000002. Valid: the r ranked candidates
///   are distinct and below the candidate count, and 1 <= r <= maxChoices. Why this form: 16
///   candidates and 16 ranks fit one uint64 with no length field, and the count needs no end
///   marker: it takes the first continuing candidate among the first maxChoices nibbles, and
///   the padding repeats one already passed over. The contract keeps the first maxChoices
///   nibbles of each ballot (4 * maxChoices bits, floor(64 / maxChoices) ballots per storage
///   word), which is what the count reads back. A faulty ranking is skipped for the first of:
///   UnknownCandidate (a ranked nibble not below the candidate count), RepeatedCandidate (a
///   candidate ranked twice, or padding that is not the last candidate), TooManyChoices.
/// - Approval: a bitmap, bit c approves candidate c. Valid: nonzero, no bit at or above the
///   candidate count, at most maxChoices bits set (faults checked in that order).
///
/// Counting rules (all integer, no randomness; "lower index" means lower candidate index, so a
/// committee that wants ties settled by lot draws the candidates' order when it opens):
/// - Ranked, one seat, instant runoff. Each round, every ballot counts for its highest-ranked
///   continuing candidate; a ballot with none left is exhausted. A candidate with more than half
///   of the round's non-exhausted ballots (votes * 2 > active) wins, as does the last continuing
///   candidate. Otherwise the candidate with the fewest votes is eliminated; among equals, the
///   one with the highest index. Exhausted ballots count for nobody and leave the majority's base.
/// - Ranked, several seats: sequential instant runoff. Seat 1 is filled by the count above;
///   seat j + 1 by a new count from round 1 in which the j winners are removed from every
///   ballot (and everybody eliminated for seat j is continuing again). Chosen over STV because
///   every seat is then won by a majority of the continuing ballots with whole votes only: no
///   quota, no fractional surplus transfers and so no rounding rule for the audit to reproduce.
///   The price: it is not proportional, a cohesive majority can fill every seat.
/// - Approval: the `seats` candidates with the most approvals win; among equals the lower
///   index wins. Approvals are tallied as ballots are counted, so the count is one step.
///
/// The count runs in steps ({countStep}): each reads at most `maxBallots` stored ballots (and
/// closes as many rounds as it completes), so the caller bounds each transaction's gas. Every
/// round emits {RoundCounted}; every round after a seat's first emits {VotesTransferred} (where
/// the ballots of the candidate eliminated before it went); every seat emits {CandidateElected}.
interface IElections {
    // ---------------------------------------------------------------- types

    /// @notice How ballots are cast and counted.
    enum ElectionKind {
        Ranked,
        Approval
    }

    /// @notice Where an election is in its life (derived from time and the count).
    /// @dev Closed: ballots are no longer accepted and the count has not finished (it may have begun).
    enum ElectionState {
        Pending,
        Open,
        Closed,
        Counted
    }

    /// @notice Why a relayed ballot was not counted.
    enum ElectionSkipReason {
        ElectionNotOpen,
        UnknownCandidate,
        RepeatedCandidate,
        TooManyChoices,
        EmptyBallot,
        BadSignature,
        MalleableSignature,
        NotOnRoll,
        AlreadyVoted,
        AssignedToPaperBox
    }

    /// @notice What a committee member gives to open an election.
    /// @param communityId The community whose roll votes.
    /// @param candidates keccak256 of each candidate's statement (kept off-chain), 2..MAX_CANDIDATES,
    /// in the order that settles ties (lower index first).
    /// @param seats Seats to fill, 1..candidates - 1.
    /// @param kind Ranked or Approval.
    /// @param maxChoices Ranked: the most ranks a ballot may fill (1..candidates); Approval: the
    /// most candidates a ballot may approve (1..candidates).
    /// @param opensAt Unix time ballots are accepted from (may be in the past: open at once).
    /// @param closesAt Unix time ballots stop being accepted and the count may start.
    struct ElectionParams {
        uint256 communityId;
        bytes32[] candidates;
        uint8 seats;
        ElectionKind kind;
        uint8 maxChoices;
        uint64 opensAt;
        uint64 closesAt;
    }

    /// @notice A resident's signed ballot as a relayer submits it.
    /// @param voter The resident who signed (must equal the recovered signer).
    /// @param choices The ballot, encoded as the contract's NatSpec says.
    /// @param r Signature r.
    /// @param vs Signature s with v's parity in the top bit (EIP-2098 compact form).
    struct SignedElectionBallot {
        address voter;
        uint64 choices;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Everything known about an election.
    /// @param tally Approval: approvals per candidate. Ranked: votes per candidate in the last
    /// round the count completed (all zero before the first).
    /// @param winners The elected candidates in the order their seats were filled.
    /// @param seatsFilled How many seats the count has filled so far.
    /// @param round The round the count is in for the next seat (1-based; 0 before the count).
    struct ElectionView {
        uint256 communityId;
        address opener;
        bytes32[] candidates;
        uint8 seats;
        ElectionKind kind;
        uint8 maxChoices;
        uint64 opensAt;
        uint64 closesAt;
        uint32 rollVersion;
        uint32 rollSize;
        ElectionState state;
        uint256 ballotCount;
        uint256[] tally;
        uint8[] winners;
        uint8 seatsFilled;
        uint8 round;
    }

    // ---------------------------------------------------------------- events

    /// @notice An election was opened; its roll snapshot is `rollVersion` with `rollSize` residents.
    event ElectionOpened(
        uint256 indexed electionId,
        uint256 indexed communityId,
        address indexed opener,
        ElectionParams params,
        uint32 rollVersion,
        uint32 rollSize
    );

    /// @notice Ballots were counted (stored, for a ranked election; tallied, for approval), in
    /// the order given: one event for all the ballots one call counted.
    /// @param cast One entry per counted ballot, `uint256(choices) << 160 | uint160(voter)`: the
    /// voter and the ballot as signed. (One event a batch costs 256 gas a ballot where an event
    /// per ballot cost 1,756; `python -m bench gas_elections`.)
    event ElectionBallotsCast(uint256 indexed electionId, uint256[] cast);

    /// @notice A relayed ballot was not counted, for `reason`; the rest of its batch went on.
    /// @dev As with the council's skips, anyone can make this name any `voter` (a signature that
    /// is not theirs, a replay of a counted ballot): it is not the voter's act, and it changes
    /// nothing.
    event ElectionBallotSkipped(uint256 indexed electionId, address indexed voter, ElectionSkipReason reason);

    /// @notice A round of the count for seat `seat` (1-based) was completed.
    /// @param round 1-based round within the seat's count (always 1 for approval).
    /// @param tally Votes per candidate this round (0 for candidates not continuing).
    /// @param exhausted Ballots counting for nobody this round.
    /// @param eliminated The candidate eliminated after this round, or NONE if the round filled the seat.
    event RoundCounted(
        uint256 indexed electionId, uint8 seat, uint8 round, uint256[] tally, uint256 exhausted, uint8 eliminated
    );

    /// @notice Where the ballots of `from`, eliminated after round `round - 1`, went in round `round`.
    /// @param received Votes each candidate gained.
    /// @param exhausted Ballots of `from` with no continuing candidate left.
    event VotesTransferred(
        uint256 indexed electionId, uint8 seat, uint8 round, uint8 from, uint256[] received, uint256 exhausted
    );

    /// @notice `candidate` won seat `seat` (1-based) with `votes` votes (approvals, for approval).
    event CandidateElected(uint256 indexed electionId, uint8 seat, uint8 candidate, uint256 votes);

    /// @notice The count finished; `winners` in the order their seats were filled.
    event ElectionCounted(uint256 indexed electionId, uint8[] winners);

    // ---------------------------------------------------------------- errors

    /// @notice No election has id `electionId`.
    error UnknownElection(uint256 electionId);

    /// @notice Only a committee member of `communityId` may do this; `account` is not one.
    error NotCommittee(uint256 communityId, address account);

    /// @notice An election needs 2..MAX_CANDIDATES candidates; it was given `count`.
    error InvalidCandidateCount(uint256 count);

    /// @notice Candidate `index` has no statement hash.
    error MissingCandidateHash(uint256 index);

    /// @notice `seats` must be 1..candidates - 1.
    error InvalidSeats(uint8 seats, uint256 candidateCount);

    /// @notice `maxChoices` must be 1..candidates.
    error InvalidMaxChoices(uint8 maxChoices, uint256 candidateCount);

    /// @notice Needs opensAt < closesAt, now < closesAt <= now + ROLL_SNAPSHOT_LIFETIME.
    error InvalidSchedule(uint64 opensAt, uint64 closesAt, uint256 now);

    /// @notice The community's published roll is empty: nobody could vote.
    error EmptyRoll(uint256 communityId);

    /// @notice The count may start only once ballots close, at `closesAt`.
    error ElectionNotClosed(uint256 electionId, uint64 closesAt);

    /// @notice The election's count has finished.
    error AlreadyCounted(uint256 electionId);

    /// @notice A count step must be allowed to read at least one ballot.
    error EmptyCountStep();

    /// @notice `electionId` is counted and the storage of its ballots now serves a later
    /// election: its ballots are in its {ElectionBallotsCast} events (and its result is unaffected).
    error BallotsRecycled(uint256 electionId);

    // ---------------------------------------------------------------- in-person ballots

    /// @notice Only the poll office (see IPollOffice) may hand in ballots it vouches for; `caller` is not it.
    error NotPollOffice(address caller);

    // ---------------------------------------------------------------- paper boxes

    /// @notice `count` paper ballots `choices` of box `boxId` (see IPaperBoxes) were counted,
    /// stored for the count (ranked) or tallied (approval) as `count` ballots each.
    event PaperBallotsCast(uint256 indexed electionId, uint256 indexed boxId, uint64 choices, uint256 count);

    /// @notice Residents are assigned to a paper box only before voting opens, at `opensAt`.
    error PaperBoxTooLate(uint256 electionId, uint64 opensAt);

    /// @notice `voter`, assigned to a paper box, is not on the election's roll snapshot.
    error PaperVoterNotOnRoll(uint256 electionId, address voter);

    /// @notice `voter` is assigned to a paper box already (or twice in one list).
    error PaperVoterAssigned(uint256 electionId, address voter);

    /// @notice A box's totals count only while the election is open.
    error PaperTotalsOutsideVoting(uint256 electionId);

    // ---------------------------------------------------------------- actions

    /// @notice Opens an election and snapshots the community's published roll. Committee only
    /// (the committee member may be relayed through the forwarder).
    /// @return electionId Sequential id, from 1.
    function openElection(ElectionParams calldata params) external returns (uint256 electionId);

    /// @notice Counts many signed ballots on one election; anyone may relay them.
    /// @dev A ballot breaking a rule emits {ElectionBallotSkipped} and the batch goes on. Checked in this
    /// order: the election is open, the encoding, the signature (low s, by `voter`), the roll at
    /// the snapshot, one ballot per resident (a proxy's ballot for the resident gives way: see
    /// the proxy ballots below).
    /// @return counted How many ballots were counted.
    function castElectionBallots(uint256 electionId, SignedElectionBallot[] calldata ballots) external returns (uint256 counted);

    /// @notice Counts ballots the poll office vouches for (residents who voted in person, each
    /// ballot signed by a poll officer there); poll office only.
    /// @dev The same rules, order and events as {castElectionBallots} except the voter's own
    /// signature: the poll office has checked the officer's. `r` and `vs` are ignored. So one
    /// ballot box per election serves every channel: whichever ballot of a resident comes first
    /// counts, and any later one, in person or online, is skipped with AlreadyVoted.
    /// @return counted How many ballots were counted.
    function castInPersonBallots(uint256 electionId, SignedElectionBallot[] calldata ballots)
        external
        returns (uint256 counted);

    /// @notice The PollOffice whose vouched ballots {castInPersonBallots} takes.
    function pollOffice() external view returns (address);

    /// @notice Assigns residents to a paper box of the poll office's; poll office only, while the
    /// election is pending. Their online and in-person ballots are skipped from then on with
    /// AssignedToPaperBox: they vote on paper only.
    /// @dev Reverts with {PaperVoterNotOnRoll} or {PaperVoterAssigned} for the first voter that
    /// is not on the roll snapshot or is in a box already.
    function assignPaperVoters(uint256 electionId, address[] calldata voters) external;

    /// @notice Counts a paper box's totals, which two poll officers signed: each pattern
    /// `choices[i]` as `counts[i]` ballots; poll office only, while the election is open.
    /// @dev Weighted entries are expanded here, once: a ranked pattern is appended `counts[i]`
    /// times to the packed ballots, so the count reads a box's ballots as any others and each
    /// {countStep} keeps its bound of `maxBallots` ballots read (the poll office bounds a box's
    /// ballots, and so this call's gas, by its assigned residents); an approval pattern adds
    /// `counts[i]` to each approved candidate's tally. The poll office has checked the encoding.
    /// Emits {PaperBallotsCast} per entry.
    /// @return ballots The ballots counted.
    function castPaperBallots(uint256 electionId, uint256 boxId, uint64[] calldata choices, uint32[] calldata counts)
        external
        returns (uint256 ballots);

    /// @notice Advances the count of a closed election by reading at most `maxBallots` stored
    /// ballots (a round reads every ballot once). Anyone may call, until it returns true.
    /// @return done Whether the count has finished (every seat filled).
    function countStep(uint256 electionId, uint256 maxBallots) external returns (bool done);

    // ---------------------------------------------------------------- views

    /// @notice The most candidates an election may have (and the most ranks a ballot may fill).
    function MAX_CANDIDATES() external view returns (uint8);

    /// @notice `eliminated` of a round that filled its seat (255).
    function NONE() external view returns (uint8);

    /// @notice keccak256("ElectionBallot(uint256 electionId,address voter,uint64 choices)").
    function BALLOT_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The Registry whose rolls and roles these elections use.
    function registry() external view returns (address);

    /// @notice The number of elections opened so far (ids are 1..electionCount).
    function electionCount() external view returns (uint256);

    /// @notice Everything known about `electionId`.
    function getElection(uint256 electionId) external view returns (ElectionView memory);

    /// @notice The state of `electionId`.
    function state(uint256 electionId) external view returns (ElectionState);

    /// @notice Whether `voter` has a ballot counted on `electionId` (their own or by proxy).
    function hasVoted(uint256 electionId, address voter) external view returns (bool);

    /// @notice Ranked: the stored ballots `start`..`start + count - 1` (those that exist), each the
    /// first maxChoices nibbles of what was cast, in the order they were counted.
    /// @dev Reverts with {BallotsRecycled} once a counted election's storage was reused.
    function storedBallots(uint256 electionId, uint256 start, uint256 count)
        external
        view
        returns (uint64[] memory ballots);

    /// @notice The EIP-712 digest a voter signs for this ballot.
    function ballotDigest(uint256 electionId, address voter, uint64 choices) external view returns (bytes32);

    // ---------------------------------------------------------------- proxy ballots
    // A proxy ballot (see IElectionProxies, which checks the mandate and the proxy's signature)
    // goes into the same ballot box and the same stored ballots as any other, so the count reads
    // one ballot per voter whatever the channel. The voter's own ballot, online or in person,
    // always overrides it: cast later, it takes the proxy ballot's place (a ranked ballot is
    // rewritten where the proxy's was stored, an approval set's approvals are exchanged) with
    // {ElectionProxyBallotReplaced} then an {ElectionBallotsCast} of that ballot alone; cast earlier, the proxy ballot is
    // skipped. Who voted for whom is rebuilt from {ElectionProxyBallotCast} and
    // {ElectionProxyBallotReplaced}.

    /// @notice Why a relayed election proxy ballot was not counted (the first five and NotOnRoll
    /// as in ElectionSkipReason; BadSignature, MalleableSignature, ProxyNotOnRoll and NoMandate
    /// are found by ElectionProxies, the rest here). AssignedToPaperBox: the voter is a resident
    /// of one of the election's paper boxes, who votes on paper only.
    enum ElectionProxySkipReason {
        ElectionNotOpen,
        UnknownCandidate,
        RepeatedCandidate,
        TooManyChoices,
        EmptyBallot,
        BadSignature,
        MalleableSignature,
        NotOnRoll,
        ProxyNotOnRoll,
        NoMandate,
        VotedThemself,
        AlreadyVotedByProxy,
        ProxyOverLimit,
        AssignedToPaperBox
    }

    /// @notice `proxy` cast `voter`'s ballot `choices` (stored or tallied as any ballot).
    event ElectionProxyBallotCast(
        uint256 indexed electionId, address indexed voter, address indexed proxy, uint64 choices
    );

    /// @notice `voter`'s own ballot took the place of the one `proxy` cast for them
    /// (`proxyChoices`); the {ElectionBallotsCast} that follows holds the voter's alone.
    event ElectionProxyBallotReplaced(
        uint256 indexed electionId, address indexed voter, address indexed proxy, uint64 proxyChoices
    );

    /// @notice A relayed proxy ballot was not counted, for `reason` (emitted by ElectionProxies
    /// or here); the rest of its batch went on. Like {ElectionBallotSkipped}, anyone can make this
    /// name anyone: it changes nothing.
    event ElectionProxyBallotSkipped(
        uint256 indexed electionId, address indexed voter, address indexed proxy, ElectionProxySkipReason reason
    );

    /// @notice Only ElectionProxies may hand in proxy ballots; `caller` is not it.
    error NotElectionProxies(address caller);

    /// @notice Counts proxy ballots whose signature, proxy and mandate ElectionProxies checked;
    /// ElectionProxies only.
    /// @dev `ballots[i]` is cast for its voter by `proxies[i]` (`r` and `vs` are ignored). Checked
    /// here, in this order: the election is open, the encoding, the voter on the roll at the
    /// snapshot, the voter in no paper box (AssignedToPaperBox), no ballot of the voter counted
    /// yet (VotedThemself, AlreadyVotedByProxy), fewer
    /// than `limit` proxy ballots by the proxy on this election (an overridden one still counts:
    /// see IMandates on why the ballot checks the limit too).
    /// @return counted How many were counted ({ElectionProxyBallotCast} each).
    function castMandatedBallots(
        uint256 electionId,
        SignedElectionBallot[] calldata ballots,
        address[] calldata proxies,
        uint256 limit
    ) external returns (uint256 counted);

    /// @notice The ElectionProxies whose checked ballots {castMandatedBallots} takes.
    function electionProxies() external view returns (address);

    /// @notice The proxy ballot counted for `voter` and not overridden (proxy address(0): none).
    function proxyBallotOf(uint256 electionId, address voter) external view returns (address proxy, uint64 choices);

    /// @notice How many of the election's counted ballots were cast by proxy (overridden ones not).
    function proxyBallotCount(uint256 electionId) external view returns (uint256);

    /// @notice How many proxy ballots `proxy` cast on `electionId` (overridden ones included).
    function proxyBallotsBy(uint256 electionId, address proxy) external view returns (uint256);
}
