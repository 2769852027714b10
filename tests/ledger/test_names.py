"""Display names: the rules a name must meet, and the store's search (case, width, Chinese,
pages), over a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.names import InvalidName, name_tag, normalise_name
from ledger.offchain import OffchainStore

A = "0x" + "A1" * 19 + "bEEf"
B = "0x" + "B2" * 19 + "C0DE"
C = "0x" + "C3" * 19 + "F00D"

# W, A, N, G in their full-width forms (U+FF37 ...), as a Chinese keyboard types them.
FULL_WIDTH_WANG = "\uff37\uff21\uff2e\uff27"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[OffchainStore]:
    s = OffchainStore(tmp_path / "api.sqlite")
    yield s
    s.close()


def test_a_name_is_nfc_trimmed_and_its_inner_spaces_collapsed() -> None:
    decomposed = "\tZoe\u0301 \u3000 Li \n"
    assert normalise_name(decomposed) == "Zo\u00e9 Li"
    assert normalise_name("  王芳 ") == "王芳"
    assert normalise_name("x" * 40) == "x" * 40


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "x" * 41,
        "a\x00b",
        "a\nb",
        "a\tb",
        "bell\x07",
        "\u202egnp.exe",
        "a\u2066b",
        "\ue000",
    ],
)
def test_empty_long_control_bidi_and_private_use_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidName) as refused:
        normalise_name(bad)
    assert bad.strip() == "" or bad not in str(refused.value)  # the reason, never the name


def test_forty_characters_count_after_normalisation() -> None:
    # 40 letters each with a combining accent: 80 code points sent, 40 once composed.
    assert len(normalise_name("e\u0301" * 40)) == 40


def test_the_tag_is_the_addresses_last_four_hex_digits_in_lower_case() -> None:
    assert name_tag(A) == "beef"


def test_search_ignores_case_and_width_and_finds_chinese_substrings(
    store: OffchainStore,
) -> None:
    store.put_name(1, A, "Wang Fang")
    store.put_name(1, B, "王小明")
    store.put_name(1, C, "Li Wei")
    assert [n.address for n in store.find_names(1, "wang")] == [A]
    assert [n.address for n in store.find_names(1, FULL_WIDTH_WANG)] == [A]
    assert [n.address for n in store.find_names(1, "小明")] == [B]
    assert store.find_names(1, "%") == []  # a character to find, not a pattern
    assert len(store.find_names(1, "")) == 3


def test_names_belong_to_one_community_and_a_new_name_replaces_the_old(
    store: OffchainStore,
) -> None:
    store.put_name(1, A, "Wang Fang")
    store.put_name(2, A, "Fang")
    store.put_name(1, A, "Auntie Wang")
    assert store.get_name(1, A) is not None and store.get_name(1, A).name == "Auntie Wang"  # type: ignore[union-attr]
    assert len(store.find_names(1, "")) == 1
    assert store.get_name(3, A) is None


def test_matches_are_ordered_by_name_then_address(store: OffchainStore) -> None:
    for address in (C, A, B):
        store.put_name(1, address, "Chen")
    store.put_name(1, "0x" + "D4" * 20, "Anna Chen")
    found = [n.address for n in store.find_names(1, "chen")]
    assert found == ["0x" + "D4" * 20, A, B, C]  # "Anna Chen" first; equal names by address


def test_names_survive_reopening_the_store(tmp_path: Path) -> None:
    first = OffchainStore(tmp_path / "api.sqlite")
    first.put_name(1, A, "王芳")
    first.close()
    again = OffchainStore(tmp_path / "api.sqlite")
    try:
        assert [n.name for n in again.find_names(1, "王")] == ["王芳"]
    finally:
        again.close()
