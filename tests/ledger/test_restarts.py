"""The restart policy `commons run` keeps its chain and API up with: at once, then a growing
pause, then giving up when a process keeps dying within the window."""

from __future__ import annotations

from ledger.config import Settings
from ledger.restarts import RestartPolicy, describe_exit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_death_is_restarted_at_once_then_the_pause_doubles_up_to_a_cap() -> None:
    policy = RestartPolicy(Settings(restart_max=10, restart_window_s=60.0), clock=Clock())
    assert [policy.died() for _ in range(7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_more_deaths_than_allowed_within_the_window_gives_up() -> None:
    policy = RestartPolicy(Settings(restart_max=2, restart_window_s=60.0), clock=Clock())
    assert [policy.died() for _ in range(3)] == [0.0, 0.5, None]
    assert policy.giving_up("the API", "exited with status 1") == (
        "the API died 3 times within 60s (last: exited with status 1); giving up"
    )


def test_deaths_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    policy = RestartPolicy(Settings(restart_max=2, restart_window_s=60.0), clock=clock)
    assert policy.died() == 0.0 and policy.died() == 0.5
    clock.now += 61
    assert policy.died() == 0.0


def test_exit_statuses_are_said_in_words() -> None:
    assert describe_exit(-9) == "was killed by SIGKILL (signal 9)"
    assert describe_exit(-15) == "was killed by SIGTERM (signal 15)"
    assert describe_exit(1) == "exited with status 1"
    assert describe_exit(0) == "exited with status 0"
