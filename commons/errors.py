"""Every command's errors as one line on stderr and a non-zero exit; never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from requests import RequestException

from ledger.errors import LedgerError

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def one_line_errors(
    *,
    code: int = 1,
    interrupted: str | None = None,
    interrupted_code: int | None = None,
    unexpected: bool = False,
) -> Callable[[F], F]:
    """The ledger's errors, bad settings and a node that stopped answering, each said in one
    line with exit status `code`. A Ctrl-C is said as `interrupted` (what it left behind) where
    the command gives it; any other exception too where `unexpected` (with its type, to report
    it by)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except typer.Exit:
                raise
            except LedgerError as exc:
                fail(str(exc), code)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                fail(f"bad setting {where}: {first['msg']}", code)
            except RequestException as exc:
                fail(f"the node stopped answering: {exc}", code)
            except KeyboardInterrupt:
                if interrupted is None:
                    raise
                fail(interrupted, code if interrupted_code is None else interrupted_code)
            except Exception as exc:
                if not unexpected:
                    raise
                fail(f"internal error ({type(exc).__name__}): {exc}", code)

        return wrapper  # type: ignore[return-value]

    return decorate
