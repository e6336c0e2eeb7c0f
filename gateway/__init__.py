"""consent-gateway: a self-hosted cookie-consent and web-analytics gateway.

The public API (pinned by tests/test_public_api.py; internals may move, these names stay):

    from gateway import ConsentMiddleware, consent_of, create_app, load_config

`Consent` is what `consent_of(scope)` returns; `GatewayConfig` is what `load_config` gives.
"""

from gateway.adapters.configfile import load_config
from gateway.app import app_from_environment, create_app
from gateway.core.config import GatewayConfig
from gateway.core.consent.cookie import Consent
from gateway.core.errors import ConfigError, GatewayError
from gateway.core.version import __version__
from gateway.web.middleware import ConsentMiddleware, consent_of

__all__ = [
    "ConfigError",
    "Consent",
    "ConsentMiddleware",
    "GatewayConfig",
    "GatewayError",
    "__version__",
    "app_from_environment",
    "consent_of",
    "create_app",
    "load_config",
]
