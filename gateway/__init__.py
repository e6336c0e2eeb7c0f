"""consent-gateway: a self-hosted cookie-consent and web-analytics gateway."""

__version__ = "0.1.0"
