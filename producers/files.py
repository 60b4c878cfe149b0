"""Loading messages from a JSON-lines file (or stdin), validating each line, publishing the valid.

Each non-blank line is one JSON object. A domain gives `parse(obj) -> Message`, which raises
ValueError with a reason naming what is wrong; the loader keeps going, and reports every
rejected line with its number (1-based, counting blank lines) and that reason. Nothing valid
is lost because a neighbour was bad.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, TypeVar

from pydantic import ValidationError

from schemas.base import Message, describe_errors

if TYPE_CHECKING:
    from producers.publisher import Publisher

M = TypeVar("M", bound=Message)
Parse = Callable[[dict[str, Any]], M]


@dataclass(frozen=True)
class RejectedLine:
    line_number: int
    reason: str


@dataclass
class LoadResult(Generic[M]):
    records: list[M] = field(default_factory=list)
    rejected: list[RejectedLine] = field(default_factory=list)


@dataclass(frozen=True)
class LoadReport:
    published: int
    rejected: list[RejectedLine]


def read_messages(lines: Iterable[str], parse: Parse[M]) -> LoadResult[M]:
    result: LoadResult[M] = LoadResult()
    result.records.extend(iter_messages(lines, parse, result.rejected))
    return result


def iter_messages(lines: Iterable[str], parse: Parse[M], rejected: list[RejectedLine]) -> Iterator[M]:
    """Yield valid messages lazily; append each bad line to `rejected`."""
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield parse(json_object(line))
        except ValidationError as error:
            rejected.append(RejectedLine(line_number, describe_errors(error)))
        except ValueError as error:
            rejected.append(RejectedLine(line_number, str(error)))


def json_object(line: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


def open_lines(path: str | Path) -> Iterator[str]:
    if str(path) == "-":
        yield from sys.stdin
        return
    with open(path, encoding="utf-8") as lines:
        yield from lines


def publish_file(
    publisher: "Publisher", path: str | Path, parse: Parse, on_progress: Callable[[int], None] | None = None
) -> LoadReport:
    """Validate every line and publish the valid messages with pipelined confirms."""
    rejected: list[RejectedLine] = []
    published = publisher.publish_many(iter_messages(open_lines(path), parse, rejected), on_progress=on_progress)
    return LoadReport(published=published, rejected=rejected)
