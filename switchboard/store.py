"""The CLI's way into the store: one engine per command, disposed when the work is done.
Errors propagate: `switchboard.errors.explain` says what a user can do about them."""

from __future__ import annotations

from typing import Callable, TypeVar

from sqlalchemy.engine import Connection

from switchboard.settings import get_settings

T = TypeVar("T")


def with_store(action: Callable[[Connection], T], *, write: bool = False) -> T:
    """`action(connection)` on the configured database: in a transaction committed at the end
    when `write`, else on a plain connection."""
    from storage.database import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        with (engine.begin() if write else engine.connect()) as connection:
            return action(connection)
    finally:
        engine.dispose()
