"""Services: the per-process objects that combine core decisions with adapters, wired once
in `gateway.services.wiring` and shared by the middleware, the endpoints and the admin."""
