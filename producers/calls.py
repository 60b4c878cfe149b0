"""Call detail records from files: what a line must hold, and the ids the loader gives them.

A record without an `id` gets `"{call_id}-{type}"` (e.g. `"71-start"`): derived only from the
record's natural key, so loading the same file twice yields the same ids, and the consumers
see the second load as duplicates. Two different records with the same (call_id, type) get
the same id but still differ in content, so call pairing still reports the conflict.
"""

from __future__ import annotations

from typing import Any, Iterable

from pydantic import ValidationError

from producers.files import LoadResult, read_messages
from schemas.telephony import CallEnd, CallStart, parse_call_record

CallRecord = CallStart | CallEnd


def parse_call_object(data: dict[str, Any]) -> CallRecord:
    if "id" not in data and _is_key_part(data.get("call_id")) and _is_key_part(data.get("type")):
        data = {**data, "id": f"{data['call_id']}-{data['type']}"}
    try:
        return parse_call_record(data)
    except ValidationError as error:
        raise ValueError(describe_validation_error(error)) from None


def read_call_records(lines: Iterable[str]) -> LoadResult[CallRecord]:
    return read_messages(lines, parse_call_object)


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
