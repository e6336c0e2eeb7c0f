"""HTTPS served by the gateway itself (`[server]` keys): certificate, redirect listener, HSTS.

Only for a gateway that terminates TLS; behind a TLS-terminating proxy these stay unset and
`server.trusted_proxies` tells the gateway the scheme the visitor used.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class HstsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True, description="Send `Strict-Transport-Security` on HTTPS responses (only when "
        "the gateway serves HTTPS itself, `server.tls_certificate`).")
    max_age: int = Field(
        31_536_000, ge=0, le=63_072_000,
        description="Seconds browsers keep to HTTPS for this host (one year by default).")
    include_subdomains: bool = Field(
        False, description="Also every subdomain: only if all of them serve HTTPS.")
    preload: bool = Field(
        False, description="Ask to be preloaded into browsers (hard to undo; read "
        "hstspreload.org first). Needs `include_subdomains` and a max-age of a year or more.")

    @model_validator(mode="after")
    def _preload_needs_the_rest(self) -> HstsConfig:
        if self.preload and not (self.include_subdomains and self.max_age >= 31_536_000):
            raise ValueError("preload needs include_subdomains = true and max_age >= 31536000")
        return self

    def header(self) -> str:
        value = f"max-age={self.max_age}"
        if self.include_subdomains:
            value += "; includeSubDomains"
        return value + "; preload" if self.preload else value


class TlsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tls_certificate: str | None = Field(
        None, description="PEM file with the certificate chain: the gateway then serves "
        "HTTPS itself. Re-read, with the key, on SIGHUP (renewals without a restart).")
    tls_key: str | None = Field(
        None, description="PEM file with the private key of `tls_certificate`.")
    http_redirect_port: int | None = Field(
        None, ge=1, le=65535, description="Also listen for plain HTTP on this port and answer "
        "every request with 308 to the same URL over HTTPS (needs `tls_certificate`).")
    hsts: HstsConfig = Field(
        default_factory=HstsConfig, description="`Strict-Transport-Security` when the "
        "gateway serves HTTPS itself.")

    @model_validator(mode="after")
    def _certificate_and_key_together(self) -> TlsSettings:
        if bool(self.tls_certificate) != bool(self.tls_key):
            raise ValueError("tls_certificate and tls_key go together: set both or neither")
        if self.http_redirect_port and not self.tls_certificate:
            raise ValueError("http_redirect_port needs tls_certificate (HTTPS to redirect to)")
        return self

    @property
    def serves_https(self) -> bool:
        return bool(self.tls_certificate)
