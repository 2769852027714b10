"""ElectionBallotsCast's entries read back as the voters and choices packed into them, whatever
the bits (the contract's own packing is pinned in tests/contracts/test_elections.py)."""

from __future__ import annotations

from eth_abi.abi import encode as abi_encode
from hypothesis import given
from hypothesis import strategies as st

from ledger.protocol.ballots_cast import CastEntry, cast_entries_of_data, cast_word

ballots = st.lists(
    st.tuples(st.binary(min_size=20, max_size=20), st.integers(0, 2**64 - 1)), max_size=120
)


@given(ballots)
def test_entries_read_back_every_voter_and_choices_packed(cast: list[tuple[bytes, int]]) -> None:
    data = abi_encode(["uint256[]"], [[cast_word(voter, choices) for voter, choices in cast]])
    assert cast_entries_of_data(data) == [CastEntry(voter, choices) for voter, choices in cast]
