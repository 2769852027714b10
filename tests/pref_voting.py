"""pref-voting's instant runoff, imported without the heavy packages its other methods need.

pref-voting (PyPI) imports numba, matplotlib, ortools, nashpy and scipy when its modules load,
for JIT compilation, drawing, linear programming and game-theoretic methods; its instant runoff
uses none of them. Installing them (hundreds of MB, numba's LLVM among them) to cross-check one
rule is not worth it, so this module gives pref-voting stand-ins while it loads: numba's `jit`
returns the function itself (the same Python, only not compiled), and every other name is a
placeholder that raises if it is ever called. The stand-ins leave `sys.modules` once pref-voting
is loaded, so no other import in the test session can pick them up.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

ABSENT = ("matplotlib", "matplotlib.pyplot", "ortools", "ortools.linear_solver", "nashpy",
          "scipy", "scipy.optimize")  # fmt: skip


class NotInstalled:
    """A name from a package that is not installed: any call says so."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: object, **kwargs: object) -> Any:
        raise RuntimeError(f"{self._name} is not installed here: only instant runoff is used")

    def __getattr__(self, attr: str) -> NotInstalled:
        return NotInstalled(f"{self._name}.{attr}")


class _Absent(types.ModuleType):
    def __getattr__(self, attr: str) -> NotInstalled:
        return NotInstalled(f"{self.__name__}.{attr}")


def _jit(*args: Any, **kwargs: Any) -> Any:
    """numba.jit without compiling: `@jit` and `@jit(nopython=True, ...)` alike."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda function: function


def load() -> types.SimpleNamespace:
    """pref_voting's ProfileWithTies, instant_runoff_tb and instant_runoff_put."""
    stand_ins: dict[str, types.ModuleType] = {}
    for name in ABSENT:
        if name not in sys.modules:
            stand_ins[name] = _Absent(name)
    if "numba" not in sys.modules:
        numba = types.ModuleType("numba")
        numba.jit = _jit  # type: ignore[attr-defined]
        stand_ins["numba"] = numba
    try:
        sys.modules.update(stand_ins)
        from pref_voting.iterative_methods import instant_runoff_put, instant_runoff_tb
        from pref_voting.profiles_with_ties import ProfileWithTies
    finally:
        for name in stand_ins:
            sys.modules.pop(name, None)
    irv_tb: Callable[..., list[int]] = instant_runoff_tb
    irv_put: Callable[..., list[int]] = instant_runoff_put
    return types.SimpleNamespace(
        ProfileWithTies=ProfileWithTies, instant_runoff_tb=irv_tb, instant_runoff_put=irv_put
    )
