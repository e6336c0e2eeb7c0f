"""JSON from untrusted bodies (pure).

`"\\ud800"` is valid JSON syntax, yet the string it decodes to is not Unicode: a lone
surrogate cannot be encoded as UTF-8. Accepted, it fails far from the request that brought
it — in an error response naming the field, or in the database write of a whole batch of
other visitors' events. So such a document is refused at the door, like any other
malformed JSON (a `ValueError`, as `json.loads` raises).
"""

from __future__ import annotations

import json
from typing import Any


def loads_unicode_json(body: bytes | str) -> Any:
    """`json.loads`, refusing documents whose strings (keys included) are not Unicode."""
    data = json.loads(body)
    if _may_hold_surrogate(body) and _holds_lone_surrogate(data):
        raise ValueError("a string holds a lone surrogate escape")
    return data


def _may_hold_surrogate(body: bytes | str) -> bool:
    """Only a `\\u` escape or, in bytes (decoded with `surrogatepass`), a raw encoded
    surrogate can bring one; in UTF-8 that starts with 0xED. Most bodies skip the walk."""
    if isinstance(body, bytes):
        utf8 = json.detect_encoding(body) == "utf-8"
        return not utf8 or b"\\u" in body or b"\xed" in body
    return "\\u" in body or not body.isascii()


def _holds_lone_surrogate(data: Any) -> bool:
    # A stack, not recursion: json.loads accepts nesting close to the recursion limit.
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
