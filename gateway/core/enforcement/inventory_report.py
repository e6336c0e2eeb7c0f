"""The cookie inventory as a site owner reads it (pure): a table for the terminal, and the
`[[cookies]]` rules to paste into the config to pin or correct the categories
(`consent-gateway cookies [--toml]`).

`facts` maps each cookie name to what the classifier says about it now (`Classification`):
the table shows the category as recorded when the cookie was last seen, the rules take
today's. Names come from upstream responses and visitors' requests, so every name printed
is made harmless first: no control character reaches a terminal or breaks out of a TOML
comment or string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Final

from gateway.core.enforcement.cookies import Classification, SeenCookie

_UNPRINTABLE: Final = re.compile(r"[^\x20-\x7e\u00a0-\uffff]|[\u2028\u2029\ufeff]")
_GLOB_SPECIAL: Final = re.compile(r"([*?\[])")
# `[[cookies]]` patterns are at most this long (the config refuses longer ones).
MAX_PATTERN: Final = 128
_COLUMNS: Final = ("site", "cookie", "category", "source", "set by", "platform",
                   "first seen", "last seen", "count")


def printable(text: str) -> str:
    """`text` with every control or invisible separator character shown as `?`."""
    return _UNPRINTABLE.sub("?", text)


def inventory_table(cookies: Sequence[SeenCookie], facts: Mapping[str, Classification]) -> str:
    """One line a cookie, columns padded to line up; "" for an empty inventory."""
    if not cookies:
        return ""
    rows = [_COLUMNS] + [
        (c.site, c.name, c.category, c.source, c.set_by,
         facts[c.name].platform if c.name in facts else "",
         c.first_seen.strftime("%Y-%m-%d"), c.last_seen.strftime("%Y-%m-%d"), str(c.count))
        for c in cookies
    ]
    cells = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(_COLUMNS))]
    lines = ["  ".join(cell.rjust(widths[i]) if i == len(row) - 1 else cell.ljust(widths[i])
                       for i, cell in enumerate(row)).rstrip()
             for row in cells]
    return "\n".join(lines) + "\n"


def cookie_rules_toml(cookies: Sequence[SeenCookie], facts: Mapping[str, Classification]) -> str:
    """`[[cookies]]` tables for the cookies seen: one per known name or prefix (today's
    category, ready to pin), a commented-out one for each unknown cookie (to fill in), and a
    note naming those your rules already classify."""
    known: dict[str, tuple[Classification, list[str]]] = {}
    unknown: list[str] = []
    ruled: list[str] = []
    for name in sorted({c.name for c in cookies}):
        fact = facts.get(name)
        if fact is None or fact.category is None:
            unknown.append(name)
        elif fact.source == "rule":
            ruled.append(name)
        else:
            pattern = _escape_glob(fact.pattern.removesuffix("*")) + (
                "*" if fact.pattern.endswith("*") else "")
            known.setdefault(pattern, (fact, []))[1].append(name)
    blocks = [_HEADER]
    if ruled:
        blocks.append(_comment("Already classified by your [[cookies]] rules: "
                               + ", ".join(ruled) + "."))
    blocks.extend(_known_rule(pattern, fact, names)
                  for pattern, (fact, names) in known.items())
    blocks.extend(_unknown_rule(name) for name in unknown)
    return "\n\n".join(blocks) + "\n"


_HEADER: Final = (
    "# Rules for the cookies the gateway has seen (consent-gateway cookies --toml).\n"
    "# Paste them into your config to pin today's categories, and correct any that are\n"
    "# wrong: your rules win over the tracker catalogue and the cookie database."
)


def _known_rule(pattern: str, fact: Classification, names: list[str]) -> str:
    origin = "tracker catalogue" if fact.source == "catalogue" else "cookie database"
    about = ", ".join(part for part in (fact.platform, origin, fact.retention) if part)
    lines = [_comment(f"{', '.join(names)}: {about}."[:300])]
    if fact.description:
        lines.append(_comment(fact.description[:300]))
    if len(pattern) > MAX_PATTERN:
        lines.append(_comment("(too long for a [[cookies]] pattern; left out)"))
        return "\n".join(lines)
    lines += ["[[cookies]]", f"pattern = {_toml_string(pattern)}",
              f'category = "{fact.category}"']
    return "\n".join(lines)


def _unknown_rule(name: str) -> str:
    lines = [_comment(f"{name}: not known. Give it its category (necessary, preferences,"),
             "# analytics or marketing) and remove the \"# \" before the rule's lines."]
    if len(name) <= MAX_PATTERN:
        lines += ["# [[cookies]]", f"# pattern = {_toml_string(_escape_glob(name))}",
                  '# category = ""']
    return "\n".join(lines)


def _comment(text: str) -> str:
    return "# " + printable(text)


def _escape_glob(name: str) -> str:
    """A cookie name as a `[[cookies]]` pattern matching exactly it (`*`, `?` and `[` in a
    name are taken literally)."""
    return _GLOB_SPECIAL.sub(r"[\1]", name)


def _toml_string(text: str) -> str:
    # A JSON string with non-ASCII escaped is a TOML basic string, once DEL is escaped too.
    return json.dumps(text, ensure_ascii=True).replace("\x7f", "\\u007f")
