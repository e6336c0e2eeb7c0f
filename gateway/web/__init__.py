"""The web layer (ASGI): middleware, the consent endpoints, the reverse proxy, the demo
site, admin views and request bodies. Thin: parse, call a service, shape the response."""
