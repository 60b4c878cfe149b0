"""Loading call detail records from a JSON-lines file (or stdin) and publishing them.

Each non-blank line is one record. A record without an `id` gets `"{call_id}-{type}"`
(e.g. `"71-start"`): derived only from the record's natural key, so loading the same file
twice yields the same ids, and the consumers see the second load as duplicates. Two
different records with the same (call_id, type) get the same id but still differ in
content, so call pairing still reports the conflict.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from pydantic import ValidationError

from schemas.telephony import CallEnd, CallStart, parse_call_record

if TYPE_CHECKING:
    from producers.publisher import Publisher

CallRecord = CallStart | CallEnd


@dataclass(frozen=True)
class RejectedLine:
    line_number: int  # 1-based, counting blank lines
    reason: str


@dataclass
class LoadResult:
    records: list[CallRecord] = field(default_factory=list)
    rejected: list[RejectedLine] = field(default_factory=list)


@dataclass(frozen=True)
class LoadReport:
    published: int
    rejected: list[RejectedLine]


def read_call_records(lines: Iterable[str]) -> LoadResult:
    result = LoadResult()
    result.records.extend(iter_call_records(lines, result.rejected))
    return result


def iter_call_records(lines: Iterable[str], rejected: list[RejectedLine]) -> Iterator[CallRecord]:
    """Yield valid records lazily; append each bad line to `rejected`."""
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield parse_call_line(line)
        except ValueError as error:
            rejected.append(RejectedLine(line_number, str(error)))


def parse_call_line(line: str) -> CallRecord:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    if "id" not in data and _is_key_part(data.get("call_id")) and _is_key_part(data.get("type")):
        data["id"] = f"{data['call_id']}-{data['type']}"
    try:
        return parse_call_record(data)
    except ValidationError as error:
        raise ValueError(describe_validation_error(error)) from None


def _is_key_part(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def describe_validation_error(error: ValidationError) -> str:
    """One line: `field: problem; field: problem` (the union branch name is left out)."""
    problems = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        if item["type"] != "union_tag_invalid" and loc and loc[0] in ("start", "end"):
            loc = loc[1:]  # the discriminated-union tag pydantic puts first
        where = ".".join(loc) or "record"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "union_tag_invalid":
            where, message = "type", f"must be 'start' or 'end', got {item['input'].get('type')!r}"
        elif item["type"] == "union_tag_not_found":
            where, message = "type", "field required ('start' or 'end')"
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def open_lines(path: str | Path) -> Iterator[str]:
    if str(path) == "-":
        yield from sys.stdin
        return
    with open(path, encoding="utf-8") as lines:
        yield from lines


def publish_call_file(
    publisher: "Publisher", path: str | Path, on_progress: Callable[[int], None] | None = None
) -> LoadReport:
    """Validate every line and publish the valid records with pipelined confirms."""
    rejected: list[RejectedLine] = []
    published = publisher.publish_many(iter_call_records(open_lines(path), rejected), on_progress=on_progress)
    return LoadReport(published=published, rejected=rejected)
