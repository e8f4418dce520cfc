"""Tell a database refusing one record's values from the database failing, for every store."""

from __future__ import annotations

import functools
import sqlite3
import sys
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import exc as sa_exc

from bridge.errors import StoreError, StoreValueError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

__all__ = ["converted_errors", "converting", "store_error", "value_errors"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_STDLIB_VALUE_ERRORS: tuple[type[BaseException], ...] = (
    OverflowError,  # an integer too large to bind (SQLite's 64-bit INTEGER)
    UnicodeEncodeError,  # text that is not valid Unicode (a lone surrogate)
    sqlite3.DataError,
    sqlite3.IntegrityError,
    sa_exc.DataError,
    sa_exc.IntegrityError,
)


def _psycopg() -> Any:
    """The psycopg module when this process loaded it (PostgreSQL); else none of its errors occur.

    Importing it costs ≈ 9 MB of memory, which a SQLite process never needs.
    """
    return sys.modules.get("psycopg")


def value_errors() -> tuple[type[BaseException], ...]:
    """Raised because of the values bound, not because the database is unwell: the record's fault.

    psycopg's are among them once PostgreSQL loaded it.
    """
    psycopg = _psycopg()
    if psycopg is None:
        return _STDLIB_VALUE_ERRORS
    # out of range for its column, NUL in text, …
    return (*_STDLIB_VALUE_ERRORS, psycopg.DataError, psycopg.IntegrityError)


def _database_errors() -> tuple[type[BaseException], ...]:
    psycopg = _psycopg()
    base = (sqlite3.Error, sa_exc.SQLAlchemyError)
    return base if psycopg is None else (*base, psycopg.Error)


def converted_errors() -> tuple[type[BaseException], ...]:
    """What a store catches and hands to ``store_error``; a store writes ``except`` with it."""
    return (*_database_errors(), *value_errors())


def store_error(error: BaseException, store: str) -> StoreError | StoreValueError | None:
    """The bridge error ``error`` stands for, or None when it is no database error at all.

    ``StoreValueError`` when the database refused the values of the statement (only the record
    that carried them fails); ``StoreError`` for everything else the database raises (connection
    lost, I/O, locks, a missing table): an infrastructure fault that is waited out. The message
    names the store and the exception class only: drivers quote the values, which may be
    personal data.
    """
    cause: BaseException = error
    if isinstance(error, sa_exc.StatementError) and error.orig is not None:
        cause = error.orig
    name = type(cause).__name__
    values = value_errors()
    if isinstance(cause, values) or isinstance(error, values):
        return StoreValueError(f"{store} refused a value: {name}")
    if isinstance(error, _database_errors()):
        return StoreError(f"{store}: {name}")
    return None


def converting(
    store: str,
) -> Callable[[Callable[_P, Coroutine[Any, Any, _R]]], Callable[_P, Coroutine[Any, Any, _R]]]:
    """Decorate a store's coroutine method: database errors leave it as ``store_error`` says."""

    def decorate(
        method: Callable[_P, Coroutine[Any, Any, _R]],
    ) -> Callable[_P, Coroutine[Any, Any, _R]]:
        @functools.wraps(method)
        async def converted(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return await method(*args, **kwargs)
            except converted_errors() as exc:
                raise (store_error(exc, store) or StoreError(store)) from exc

        return converted

    return decorate
