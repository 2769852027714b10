"""The settings: every tunable read from the environment by its name, and combinations that
cannot work refused at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ledger.config import Settings


def test_a_tunable_is_read_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMONS_RELAY_BALLOT_BATCH", "100")
    monkeypatch.setenv("COMMONS_INDEX_CHECK_EVENTS", "50")
    settings = Settings()
    assert (settings.relay_ballot_batch, settings.index_check_events) == (100, 50)


def test_a_reorg_watch_deeper_than_the_managed_chain_keeps_is_refused() -> None:
    with pytest.raises(ValidationError, match="deeper than the managed chain keeps"):
        Settings(relay_reorg_depth=128, node_prune_history=64)
    assert Settings(relay_reorg_depth=128, node_prune_history=128).relay_reorg_depth == 128


def test_a_batch_size_of_zero_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(relay_ballot_batch=0)
