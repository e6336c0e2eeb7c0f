"""Consent-log exports (pure): CSV and NDJSON rows, and the signature over an export.

An export is the log up to the chain head read when it starts (`seq <= head`), optionally
filtered. It is signed with HMAC-SHA256 under a key derived from the server's newest secret
key with a purpose salt of its own (any configured key verifies, for rotation). The MAC
covers a canonical JSON of the format, the head, the filters, the counts, the byte length
and the SHA-256 of the exact exported bytes: one byte changed in the file, or any claim
about it in the signature, fails verification.

Tombstones (what retention leaves of a record) appear only in a *complete* export, one
without filters: there every `seq` from 1 to the head appears exactly once, so anyone can
walk the hash chain from the file alone. A filtered export is a selection — tombstones have
no site, time or action to match — and each of its records can still be checked against
its own `hash`; the chain itself is checked on the server (`/admin/verify`, `verify-log`).

CSV is for people and spreadsheets: categories are space-separated and a cell that a
spreadsheet would run as a formula gets a leading apostrophe. NDJSON is lossless: each line
is a record exactly as hashed, plus `tombstone`.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from gateway.core.consent.cookie import is_consent_id
from gateway.core.consent.record import (
    FIELDS,
    GENESIS_HASH,
    LATER_FIELDS,
    ChainBreak,
    ChainVerifier,
    ConsentRecord,
    LogEntry,
    Tombstone,
    format_timestamp,
    parse_timestamp,
    record_hash,
)
from gateway.core.errors import BadRequest
from gateway.core.types import ACTIONS, Action

ExportFormat = Literal["csv", "ndjson"]
EXPORT_FORMATS: Final[tuple[ExportFormat, ...]] = get_args(ExportFormat)
MEDIA_TYPES: Final[dict[ExportFormat, str]] = {
    "csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson; charset=utf-8",
}
EXPORT_COLUMNS: Final = (*FIELDS, "tombstone")
FILTER_FIELDS: Final = ("since", "until", "site", "consent_id", "action")
QUERY_FIELDS: Final = (*FILTER_FIELDS, "head")
SIGNATURE_VERSION: Final = 1
ALGORITHM: Final = "HMAC-SHA256"
_PURPOSE: Final = b"consent-gateway.export.v1"
# OWASP's list: a spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_SITE_ID: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_MAX_MOMENT_CHARS: Final = 40
_MAX_HEAD: Final = 10**15


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentFilter:
    """Which records an export holds: `since` inclusive, `until` exclusive (UTC)."""

    since: datetime | None = None
    until: datetime | None = None
    site: str | None = None
    consent_id: str | None = None
    action: Action | None = None

    @property
    def selects_content(self) -> bool:
        """True when any filter is set: then tombstones, which have no content, stay out."""
        return any(getattr(self, name) is not None for name in FILTER_FIELDS)

    def to_json(self) -> dict[str, str]:
        values = {name: getattr(self, name) for name in FILTER_FIELDS}
        return {name: format_timestamp(value) if isinstance(value, datetime) else value
                for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class ExportQuery:
    filters: ConsentFilter
    head: int | None = None  # export up to this seq instead of the current head


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    hash: str

    def header_value(self) -> str:
        return f"{self.seq} {self.hash}"

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash}


GENESIS_HEAD: Final = ChainHead(0, GENESIS_HASH)


# ------------------------------------------------------------------------------ the query


def parse_export_query(pairs: Iterable[tuple[str, str]]) -> ExportQuery:
    """Validate query parameters (or CLI options); `BadRequest` names the field. Unknown or
    repeated parameters are refused, so a typo never silently widens an export; an empty
    value counts as not given (as an empty form field sends it)."""
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in QUERY_FIELDS:
            raise BadRequest(f"unknown parameter; known are {', '.join(QUERY_FIELDS)}",
                             field=name[:40])
        if name in values:
            raise BadRequest(f"{name} is given more than once", field=name)
        values[name] = value
    given = {name: value for name, value in values.items() if value != ""}
    filters = ConsentFilter(
        since=_moment(given, "since"), until=_moment(given, "until"),
        site=_site(given.get("site")), consent_id=_consent_id(given.get("consent_id")),
        action=_action(given.get("action")),
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise BadRequest("until must be later than since", field="until")
    return ExportQuery(filters, _head(given.get("head")))


def _moment(values: Mapping[str, str], name: str) -> datetime | None:
    text = values.get(name)
    if text is None:
        return None
    problem = BadRequest(f"{name} must be a date like 2026-11-21 or a time like "
                         "2026-11-21T08:00:00Z", field=name)
    if len(text) > _MAX_MOMENT_CHARS:
        raise problem
    try:
        moment = datetime.fromisoformat(text)
        # A date or a time without a zone is UTC, as the log is.
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved past the end
        raise problem from None


def _site(text: str | None) -> str | None:
    if text is not None and not _SITE_ID.fullmatch(text):
        raise BadRequest("site is a site id: lowercase letters, digits, - and _", field="site")
    return text


def _consent_id(text: str | None) -> str | None:
    if text is not None and not is_consent_id(text):
        raise BadRequest("a consent id is 22 characters of A-Z, a-z, 0-9, - and _",
                         field="consent_id")
    return text


def _action(text: str | None) -> Action | None:
    for action in ACTIONS:
        if text == action:
            return action
    if text is not None:
        raise BadRequest(f"action must be one of {', '.join(ACTIONS)}", field="action")
    return None


def _head(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or int(text) > _MAX_HEAD:
        raise BadRequest("head is a sequence number (a whole number from 0)", field="head")
    return int(text)


# ------------------------------------------------------------------------------ rows


def export_row(entry: LogEntry) -> dict[str, Any]:
    """One entry in `EXPORT_COLUMNS` order; a tombstone's blanked fields are `None`."""
    if isinstance(entry, Tombstone):
        return {**dict.fromkeys(EXPORT_COLUMNS), **entry.to_json()}
    return {**entry.to_json(), "tombstone": False}


def ndjson_line(entry: LogEntry) -> str:
    return json.dumps(export_row(entry), ensure_ascii=False, separators=(",", ":")) + "\n"


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return guard_formula(" ".join(str(item) for item in value))
    return guard_formula(str(value))


def guard_formula(text: str) -> str:
    """A leading apostrophe makes a spreadsheet show the text instead of running it."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


# ------------------------------------------------------------------------------ writing


@dataclass(slots=True)
class ExportWriter:
    """Turns pages of log entries into the bytes of one export, hashing exactly the bytes
    it hands out, so the signature covers what was sent and nothing else."""

    format: ExportFormat
    head: ChainHead
    filters: ConsentFilter
    keys: Sequence[str] = field(repr=False)  # secrets: never in a log line
    records: int = 0
    tombstones: int = 0
    last_seq: int = 0
    size: int = 0
    _digest: Any = field(default_factory=hashlib.sha256, init=False, repr=False)

    def start(self) -> bytes:
        return self._emit(csv_lines([EXPORT_COLUMNS]) if self.format == "csv" else "")

    def page(self, entries: Sequence[LogEntry]) -> bytes:
        for entry in entries:
            self.records += 1
            self.tombstones += isinstance(entry, Tombstone)
        if entries:
            self.last_seq = entries[-1].seq
        if self.format == "ndjson":
            return self._emit("".join(ndjson_line(entry) for entry in entries))
        rows = ([csv_cell(value) for value in export_row(entry).values()] for entry in entries)
        return self._emit(csv_lines(rows))

    def finish(self) -> bytes:
        """The NDJSON trailer line (outside the signed bytes); nothing for CSV."""
        if self.format == "csv":
            return b""
        trailer = {"signature": self.signature()}
        return (json.dumps(trailer, separators=(",", ":")) + "\n").encode("utf-8")

    def signature(self) -> dict[str, Any]:
        return sign_export({
            "format": self.format, "head": self.head.to_json(),
            "filters": self.filters.to_json(), "complete": not self.filters.selects_content,
            "records": self.records, "tombstones": self.tombstones,
            "bytes": self.size, "sha256": self._digest.hexdigest(),
        }, self.keys)

    def _emit(self, text: str) -> bytes:
        data = text.encode("utf-8")
        self._digest.update(data)
        self.size += len(data)
        return data


# ------------------------------------------------------------------------------ signing


def export_key(secret: str) -> bytes:
    """A key for this purpose only: a leaked export key forges no consent cookie."""
    return hmac.new(secret.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()


def key_id(secret: str) -> str:
    """Names the signing key without revealing it (to tell which rotation signed)."""
    return hashlib.sha256(b"key-id:" + export_key(secret)).hexdigest()[:16]


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("ascii")


def sign_export(summary: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The signature document: `summary` plus version, algorithm, key id and the MAC."""
    newest = keys[0]
    unsigned = {"version": SIGNATURE_VERSION, "algorithm": ALGORITHM, **summary,
                "key_id": key_id(newest)}
    mac = hmac.new(export_key(newest), _canonical(unsigned), hashlib.sha256).hexdigest()
    return {**unsigned, "hmac": mac}


def check_export(data: bytes, signature: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    """None when `signature` vouches for `data` under one of `keys`; else what failed."""
    mac = signature.get("hmac") if isinstance(signature, Mapping) else None
    if not isinstance(mac, str):
        return "the signature has no hmac"
    unsigned = {name: value for name, value in signature.items() if name != "hmac"}
    try:
        message = _canonical(unsigned)
    except (TypeError, ValueError):
        return "the signature is not a signature document"
    matched = False
    for secret in keys:  # every key, always: no early exit
        expected = hmac.new(export_key(secret), message, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected.encode("ascii"), mac.encode("utf-8"))
    if not matched:
        return "the hmac does not match: the signature was changed or made with another key"
    if signature.get("bytes") != len(data) or \
            signature.get("sha256") != hashlib.sha256(data).hexdigest():
        return "the data does not match the signature's sha256: the export was changed"
    return None


def verify_export(data: bytes, signature: Mapping[str, Any], keys: Sequence[str]) -> bool:
    return check_export(data, signature, keys) is None


def split_ndjson_trailer(blob: bytes) -> tuple[bytes, dict[str, Any] | None]:
    """(signed bytes, signature) of an NDJSON export; the signature is None when the last
    line is not a signature trailer."""
    cut = blob.rfind(b"\n", 0, len(blob) - 1) + 1
    try:
        trailer = json.loads(blob[cut:])
    except ValueError:
        return blob, None
    signature = trailer.get("signature") if isinstance(trailer, dict) else None
    return blob[:cut], signature if isinstance(signature, dict) else None


# ------------------------------------------------------------------------------ re-checking


def check_ndjson_records(data: bytes, signature: Mapping[str, Any]) -> ChainBreak | None:
    """Check an NDJSON export without the key: each record against its own hash, and for
    a complete export the whole chain from genesis up to the signed head."""
    complete, head = signature.get("complete") is True, signature.get("head")
    verifier = ChainVerifier()
    for number, line in enumerate(data.splitlines(), start=1):
        entry = entry_from_json(line)
        if entry is None:
            return ChainBreak(verifier.expected_seq, f"line {number} is not a log entry")
        if complete:
            problem = verifier.check(entry)
            if problem is not None:
                return problem
        elif isinstance(entry, ConsentRecord) and record_hash(entry) != entry.hash:
            return ChainBreak(entry.seq, "hash does not match the record's contents")
    if not complete:
        return None
    return _check_head(verifier, head)


def _check_head(verifier: ChainVerifier, head: Any) -> ChainBreak | None:
    if not isinstance(head, dict) or not isinstance(head.get("seq"), int):
        return ChainBreak(verifier.expected_seq, "the signature names no chain head")
    problem = verifier.check_head(head["seq"])
    if problem is None and verifier.prev_hash != head.get("hash"):
        return ChainBreak(head["seq"], "the last record's hash is not the signed head's")
    return problem


def entry_from_json(line: bytes | str) -> LogEntry | None:
    """An NDJSON export line back into a record or tombstone; None if it is neither."""
    try:
        row = json.loads(line)
        if row.get("tombstone") is True:
            return Tombstone(int(row["seq"]), str(row["prev_hash"]), str(row["hash"]))
        # An export from before `mode` and `host` existed lacks them: they were empty.
        data = {name: row.get(name, "") if name in LATER_FIELDS else row[name]
                for name in FIELDS}
        data["recorded_at"] = parse_timestamp(data["recorded_at"])
        data["granted"], data["denied"] = tuple(data["granted"]), tuple(data["denied"])
        return ConsentRecord(**data)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
