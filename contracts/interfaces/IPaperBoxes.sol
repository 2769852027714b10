// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPaperBoxes
/// @notice Paper ballot boxes of elections. The committee declares a box before voting opens,
/// with the list of residents assigned to it; from then on those residents vote only on paper
/// (Elections skips their online and in-person ballots with AssignedToPaperBox). After the box is
/// counted by hand, two different POLL_OFFICERs of the community each sign the same totals: one
/// count per ballot pattern (a ranking, an approval set: IElections' encoding) and the hash of
/// the photographed closure certificate. The totals count only once the second officer signs
/// exactly what the first did, and only while the election is open: the box is counted before
/// the election closes (the committee sets closesAt after the polling place closes, with time to
/// count), so the on-chain count never starts without it.
/// @dev Officers sign EIP-712
/// `BoxTotals(uint256 boxId,uint64[] choices,uint32[] counts,bytes32 certificateHash,address officer)`
/// under the poll office's domain ("CommonsPollOffice", "1", chain id, this contract). The assigned
/// residents are a list given whole at declaration and published in {PaperBoxDeclared}: at
/// neighbourhood sizes (at most MAX_BOX_VOTERS a box) a list is what an auditor checks most
/// simply, against the roll and against every other channel. Each box's totals enter Elections
/// as weighted entries (a pattern and how many ballots carry it): see
/// {IElections-castPaperBallots}. A totals signature that breaks a rule is refused with a
/// {PaperBoxSkipReason} in {BoxTotalsRefused} rather than reverting, so a relayer's batch goes on.
interface IPaperBoxes {
    /// @notice Why an officer's signed box totals were refused.
    /// @dev Checked in this order: BoxNotFound, BoxAlreadyCounted, VotingNotOpen (the election is
    /// not open), MalleableOfficerSignature, BadOfficerSignature, NotPollOfficer,
    /// EmptyTotals (no entry, a zero count, or choices and counts of different lengths),
    /// BadPattern (an entry IElections would skip), OverAssigned (more ballots than residents
    /// assigned), SameOfficerTwice (these totals already carry this officer's signature).
    enum PaperBoxSkipReason {
        BoxNotFound,
        BoxAlreadyCounted,
        VotingNotOpen,
        MalleableOfficerSignature,
        BadOfficerSignature,
        NotPollOfficer,
        EmptyTotals,
        BadPattern,
        OverAssigned,
        SameOfficerTwice
    }

    /// @notice A box as declared, and whether its totals counted.
    /// @param electionId The election the box serves.
    /// @param labelHash keccak256 of the box's label (e.g. "A", kept off-chain with the list).
    /// @param assigned How many residents were assigned to the box.
    /// @param votersHash keccak256(abi.encodePacked(voters)) of the assigned residents, as declared.
    /// @param totalsHash The totals that counted (see {totalsHash}); zero until they did.
    /// @param ballots The ballots the counted totals held; zero until they counted.
    struct PaperBox {
        uint256 electionId;
        bytes32 labelHash;
        uint32 assigned;
        bytes32 votersHash;
        bytes32 totalsHash;
        uint32 ballots;
    }

    /// @notice An officer's signed totals of a box, as a relayer submits them.
    /// @param choices The ballot patterns, encoded as IElections says.
    /// @param counts How many ballots in the box carry each pattern (same length as choices).
    /// @param certificateHash keccak256 of the photographed closure certificate.
    /// @param officer The POLL_OFFICER who signed.
    /// @param r Signature r.
    /// @param vs Signature s with v's parity in the top bit (EIP-2098 compact form).
    struct SignedBoxTotals {
        uint64[] choices;
        uint32[] counts;
        bytes32 certificateHash;
        address officer;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Box `boxId` of `electionId` was declared by `committee` with `voters` assigned to it.
    event PaperBoxDeclared(
        uint256 indexed boxId, uint256 indexed electionId, address indexed committee, bytes32 labelHash, address[] voters
    );

    /// @notice `officer` signed totals `totalsHash` of `boxId` (see {totalsHash}); the certificate
    /// and entries are in the calldata.
    event BoxTotalsSigned(uint256 indexed boxId, address indexed officer, bytes32 totalsHash);

    /// @notice An officer's signed totals of `boxId` were refused for `reason`.
    event BoxTotalsRefused(uint256 indexed boxId, address indexed officer, PaperBoxSkipReason reason);

    /// @notice Two officers signed totals `totalsHash`: its `ballots` ballots were handed to Elections.
    event BoxTotalsCounted(uint256 indexed boxId, uint256 indexed electionId, bytes32 totalsHash, uint256 ballots);

    /// @notice A box needs 1..MAX_BOX_VOTERS assigned residents; it was given `count`.
    error InvalidBoxSize(uint256 count);

    /// @notice Declares a paper box for `electionId` with its assigned residents. Committee of
    /// the election's community only, sent by the member's own account, before voting opens.
    /// @dev Elections checks the rest ({IElections-assignPaperVoters}): each voter on the
    /// election's roll, in no other box, the election still pending.
    /// @return boxId Sequential id, from 1, across elections.
    function declareBox(uint256 electionId, bytes32 labelHash, address[] calldata voters)
        external
        returns (uint256 boxId);

    /// @notice Records each officer's signed totals of `boxId`; anyone may relay. The second
    /// officer to sign totals already signed by a different officer makes them count.
    /// @return counted Whether the box's totals counted in this call.
    function signBoxTotals(uint256 boxId, SignedBoxTotals[] calldata signed) external returns (bool counted);

    /// @notice keccak256("BoxTotals(uint256 boxId,uint64[] choices,uint32[] counts,bytes32 certificateHash,address officer)").
    function BOX_TOTALS_TYPEHASH() external view returns (bytes32);

    /// @notice The most residents a box may hold (bounds the gas of counting its totals).
    function MAX_BOX_VOTERS() external view returns (uint32);

    /// @notice The number of boxes declared so far (ids are 1..boxCount).
    function boxCount() external view returns (uint256);

    /// @notice Box `boxId`; a box never declared reads all zero (election 0).
    function getBox(uint256 boxId) external view returns (PaperBox memory);

    /// @notice The officer who first signed totals `totals` of `boxId` (zero if none did).
    function totalsSigner(uint256 boxId, bytes32 totals) external view returns (address);

    /// @notice What identifies a box's totals regardless of who signs:
    /// keccak256(abi.encode(boxId, keccak256(abi.encodePacked(choices as uint256 words)),
    /// keccak256(abi.encodePacked(counts as uint256 words)), certificateHash)).
    function totalsHash(uint256 boxId, uint64[] calldata choices, uint32[] calldata counts, bytes32 certificateHash)
        external
        pure
        returns (bytes32);

    /// @notice The EIP-712 digest an officer signs for these totals.
    function boxTotalsDigest(
        uint256 boxId,
        uint64[] calldata choices,
        uint32[] calldata counts,
        bytes32 certificateHash,
        address officer
    ) external view returns (bytes32);
}
