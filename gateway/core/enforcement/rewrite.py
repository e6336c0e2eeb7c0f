"""One HTML page's way through the gateway (pure), each stage streaming so a page is never
held whole: undo the upstream's content encoding, turn UTF-16 into UTF-8, hold back blocked
tags, inject the banner, compress for the browser."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.enforcement.blocking import ScriptBlocker
from gateway.core.enforcement.compression import Encoder
from gateway.core.enforcement.encoding import Decoder, Utf16ToUtf8
from gateway.core.enforcement.html import PageInjector


@dataclass(slots=True)
class PageRewrite:
    decoder: Decoder | None
    transcoder: Utf16ToUtf8 | None
    blocker: ScriptBlocker | None
    injector: PageInjector
    encoder: Encoder | None

    def feed(self, chunk: bytes) -> bytes:
        pieces = self.decoder.feed(chunk) if self.decoder else (chunk,)
        return self._encode(b"".join(self._rewrite(piece) for piece in pieces))

    def finish(self) -> bytes:
        tail = self._rewrite(self.decoder.finish()) if self.decoder else b""
        if self.transcoder is not None:
            tail += self._rewrite(self.transcoder.finish(), transcoded=True)
        if self.blocker is not None:
            tail += self.injector.feed(self.blocker.finish())
        tail = self._encode(tail + self.injector.finish())
        return tail + self.encoder.finish() if self.encoder else tail

    def _rewrite(self, piece: bytes, *, transcoded: bool = False) -> bytes:
        if self.transcoder is not None and not transcoded:
            piece = self.transcoder.feed(piece)
        if self.blocker is not None:
            piece = self.blocker.feed(piece)
        return self.injector.feed(piece)

    def _encode(self, data: bytes) -> bytes:
        return self.encoder.feed(data) if self.encoder and data else data
