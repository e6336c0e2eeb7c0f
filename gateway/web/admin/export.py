"""Consent-log export and chain verification for the admin (web layer).

`GET consents.csv|consents.ndjson` stream the log in pages, bounded by the chain head read
when the export starts (sent as `X-Consent-Chain-Head: <seq> <hash>`), so memory stays flat
however long the log is and records appended meanwhile do not blur the range. NDJSON ends
with a signature trailer line; a CSV's signature is `GET consents.csv.sig` with the same
query plus `head=<seq>`, which regenerates the same bytes and signs them. The CLI's `export`
writes through `write_export`, so a file and a download of the same range are identical.

`GET verify` walks the chain (from the last checkpoint; `?full=1` from the first record, see
`adapters/store/chain.py`): 200 with `ok: true`, or 409 with `ok: false` and the first
broken `seq` — a non-2xx status, so a monitoring probe (`curl -f`) notices a broken chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, BinaryIO
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.adapters.store import Store
from gateway.adapters.store.chain import walk_chain
from gateway.core.consent.export import (
    GENESIS_HEAD,
    MEDIA_TYPES,
    ChainHead,
    ExportFormat,
    ExportQuery,
    ExportWriter,
    parse_export_query,
)
from gateway.core.consent.record import ChainBreak
from gateway.core.errors import BadRequest, ChainBroken
from gateway.services.wiring import Services
from gateway.web.admin.auth import authorise

HEAD_HEADER = "X-Consent-Chain-Head"
_NO_STORE = {"Cache-Control": "no-store"}


def export_routes(services: Services) -> list[Route]:
    views = _ExportViews(services)
    admin = f"{services.prefix}/admin"
    return [
        Route(f"{admin}/consents.csv", views.csv, methods=["GET"]),
        Route(f"{admin}/consents.csv.sig", views.csv_signature, methods=["GET"]),
        Route(f"{admin}/consents.ndjson", views.ndjson, methods=["GET"]),
        Route(f"{admin}/verify", views.verify, methods=["GET"]),
    ]


class _ExportViews:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def csv(self, request: Request) -> Response:
        return await self._export(request, "csv")

    async def ndjson(self, request: Request) -> Response:
        return await self._export(request, "ndjson")

    async def _export(self, request: Request, fmt: ExportFormat) -> Response:
        await authorise(self.services, request)
        writer = await self._writer(request, fmt)
        headers = {
            **_NO_STORE, HEAD_HEADER: writer.head.header_value(),
            "Content-Disposition": f'attachment; filename="consent-log-{writer.head.seq}.{fmt}"',
            "X-Content-Type-Options": "nosniff",
        }
        if fmt == "csv":
            same = [(k, v) for k, v in request.query_params.multi_items() if k != "head"]
            query = urlencode([*same, ("head", str(writer.head.seq))])
            headers["Link"] = f'<{request.scope["path"]}.sig?{query}>; rel="signature"'
        # An error after the first chunk cannot become a JSON answer any more: the download
        # breaks off, and a cut-short export fails verification.
        return StreamingResponse(export_chunks(self.services.store, writer),
                                 media_type=MEDIA_TYPES[fmt], headers=headers)

    async def csv_signature(self, request: Request) -> Response:
        """The signature of the CSV the same query returns (pass `head` from its
        `X-Consent-Chain-Head` so both cover the same records)."""
        await authorise(self.services, request)
        writer = await self._writer(request, "csv")
        async for _ in export_chunks(self.services.store, writer):
            pass
        return JSONResponse(writer.signature(), headers={
            **_NO_STORE, HEAD_HEADER: writer.head.header_value()})

    async def verify(self, request: Request) -> Response:
        """`records`/`tombstones`: those checked now, after `resumed_from` (the checkpoint;
        0 for a full walk)."""
        await authorise(self.services, request)
        full = request.query_params.get("full", "0")
        if full not in ("0", "1"):
            raise BadRequest("full must be 0 or 1", field="full")
        walk = await walk_chain(self.services.store, full=full == "1")
        verdict, head = walk.verdict, walk.head.to_json()
        if isinstance(verdict, ChainBreak):
            body = {"ok": False, "seq": verdict.seq, "reason": verdict.reason, "head": head}
            return JSONResponse(body, status_code=409, headers=_NO_STORE)
        return JSONResponse({"ok": True, "records": verdict.checked,
                             "tombstones": verdict.tombstones, "head": head,
                             "resumed_from": walk.resumed_from}, headers=_NO_STORE)

    async def _writer(self, request: Request, fmt: ExportFormat) -> ExportWriter:
        query = parse_export_query(request.query_params.multi_items())
        return await new_export(self.services.store, fmt, query,
                                self.services.config.server.secret_keys)


async def new_export(
    store: Store, fmt: ExportFormat, query: ExportQuery, keys: Sequence[str]
) -> ExportWriter:
    """A writer bounded by the current chain head, or by `query.head` if given."""
    head = await resolve_head(store, query.head)
    return ExportWriter(fmt, head=head, filters=query.filters, keys=keys)


async def resolve_head(store: Store, seq: int | None) -> ChainHead:
    current = ChainHead(*await store.chain_head())
    if seq is None or seq == current.seq:
        return current
    if seq > current.seq:
        raise BadRequest(f"head must not be past the chain head ({current.seq})", field="head")
    if seq == 0:
        return GENESIS_HEAD
    # Left unfinished: a page is read whole, so no cursor stays open.
    entry = await anext(aiter(store.iter_consents(after_seq=seq - 1)), None)
    if entry is None or entry.seq != seq:
        raise ChainBroken(seq, "record missing")
    return ChainHead(entry.seq, entry.hash)


async def export_chunks(store: Store, writer: ExportWriter) -> AsyncIterator[bytes]:
    """The export's bytes, one chunk per page of the log (plus header and trailer)."""
    start = writer.start()
    if start:
        yield start
    async for page in store.iter_consent_pages(writer.filters, up_to_seq=writer.head.seq):
        yield writer.page(page)
    trailer = writer.finish()
    if trailer:
        yield trailer


async def write_export(
    store: Store, writer: ExportWriter, out: BinaryIO,
    progress: Callable[[ExportWriter], None] | None = None,
) -> dict[str, Any]:
    """Write the same bytes as the download to `out`; return the signature."""
    async for chunk in export_chunks(store, writer):
        out.write(chunk)
        if progress is not None:
            progress(writer)
    return writer.signature()

