// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPollOffice
/// @notice In-person ballots of elections: a resident who comes to the polling place has their
/// identity checked by a POLL_OFFICER of the community (off-chain, as on paper), who enters their
/// ballot and signs it; anyone relays the officers' signed ballots in batches. The ballot then
/// counts exactly as an online one (IElections' rules and count), and the resident's later online
/// ballot is skipped with AlreadyVoted, as an in-person ballot of a resident who voted online is:
/// the first ballot of a resident wins, whatever its channel.
/// @dev Officers sign EIP-712 `InPersonBallot(uint256 electionId,address voter,uint64 choices,address officer)`
/// under the domain ("CommonsPollOffice", "1", chain id, this contract). The officer's signature
/// and role are checked here; the rest (open, encoding, roll, once) by Elections, which emits
/// an {IElections-ElectionBallotSkipped} for each ballot handed in and not counted, and one
/// {IElections-ElectionBallotsCast} holding those counted. A ballot counted in person is thus an
/// entry of an ElectionBallotsCast in a transaction that also holds its
/// {InPersonBallotVouched}: the results' "in person N". Replaying an officer's signed ballot is
/// harmless: the voter's second ballot is skipped. In-person ballots leave no state here; the
/// paper boxes the office also keeps are IPaperBoxes'.
interface IPollOffice {
    /// @notice Why an in-person ballot was not handed to Elections.
    enum PollSkipReason {
        BadOfficerSignature,
        MalleableOfficerSignature,
        NotPollOfficer
    }

    /// @notice An in-person ballot as an officer signed it.
    /// @param voter The resident present at the polling place.
    /// @param choices The ballot, encoded as IElections says.
    /// @param officer The POLL_OFFICER who checked the resident and signed.
    /// @param r Signature r.
    /// @param vs Signature s with v's parity in the top bit (EIP-2098 compact form).
    struct InPersonBallot {
        address voter;
        uint64 choices;
        address officer;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice `officer` vouched for `voter`'s in-person ballot, handed to Elections (which counts or skips it).
    event InPersonBallotVouched(uint256 indexed electionId, address indexed voter, address indexed officer);

    /// @notice An in-person ballot was not handed to Elections, for `reason`; the batch went on.
    event InPersonBallotRefused(
        uint256 indexed electionId, address indexed voter, address indexed officer, PollSkipReason reason
    );

    /// @notice Hands the ballots whose officer signature and role hold to Elections; anyone may relay.
    /// @dev Checked here in this order: a low-s signature by `officer`, `officer` holds POLL_OFFICER
    /// in the election's community now. Refused ones emit {InPersonBallotRefused}.
    /// @return counted How many ballots Elections counted.
    function castInPersonBallots(uint256 electionId, InPersonBallot[] calldata ballots)
        external
        returns (uint256 counted);

    /// @notice keccak256("InPersonBallot(uint256 electionId,address voter,uint64 choices,address officer)").
    function IN_PERSON_BALLOT_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The Registry whose POLL_OFFICER role is checked.
    function registry() external view returns (address);

    /// @notice The Elections this office hands ballots to.
    function elections() external view returns (address);

    /// @notice The EIP-712 digest an officer signs for this in-person ballot.
    function inPersonDigest(uint256 electionId, address voter, uint64 choices, address officer)
        external
        view
        returns (bytes32);
}
