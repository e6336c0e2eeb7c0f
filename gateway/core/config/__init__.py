"""Configuration schema, environment overrides and the generated reference (pure).

The schema is the single source of truth: validation, `GATEWAY_<SECTION>_<KEY>` overrides
and `docs/configuration.md` are all derived from the models, so a key cannot exist without
help text or go undocumented. Import from here; the modules are:

- `schema`: the whole document `GatewayConfig`, its gateway-wide tables (`ServerConfig`,
  `ConsentConfig`, `PrivacyConfig` … `AdminConfig`; `StorageConfig` from `storage`), the
  checks across sections, `parse_config` and the mapping of pydantic's errors to one
  `ConfigProblem` per key.
- `sites`: what the sites show visitors and hold back from them (`SiteConfig`, category and
  banner texts, Consent Mode, `CookieRule`, `BlockingConfig`, `BlockingRule`), and
  `_Section`, the base of every table.
- `storage`: `[storage]`, the SQLite file or the PostgreSQL URL (`storage_engine`).
- `environment`: `GATEWAY_...` overrides, walked generically over any pydantic model.
- `reference`: `config_keys` and `config_reference_markdown` (docs/configuration.md).

Imports point one way: `environment` and `sites` know nothing of the others, `schema` uses
both, `reference` reads `schema`. Reading the TOML file and secret files is I/O and lives in
`gateway.adapters.configfile`.
"""

from gateway.core.config.environment import ENV_PREFIX
from gateway.core.config.reference import ConfigKey, config_keys, config_reference_markdown
from gateway.core.config.schema import (
    MAX_LIFETIME_DAYS,
    AbuseConfig,
    AdminConfig,
    AnalyticsConfig,
    ConsentConfig,
    GatewayConfig,
    PrivacyConfig,
    RetentionConfig,
    ServerConfig,
    apply_env_overrides,
    parse_config,
)
from gateway.core.config.sites import (
    BannerConfig,
    BannerTexts,
    BlockingConfig,
    BlockingRule,
    CategoryConfig,
    CategoryTexts,
    ConsentModeConfig,
    ConsentSignal,
    CookieRule,
    RegionDefault,
    SiteConfig,
    config_notes,
)
from gateway.core.config.storage import StorageConfig

__all__ = [
    "ENV_PREFIX",
    "MAX_LIFETIME_DAYS",
    "AbuseConfig",
    "AdminConfig",
    "AnalyticsConfig",
    "BannerConfig",
    "BannerTexts",
    "BlockingConfig",
    "BlockingRule",
    "CategoryConfig",
    "CategoryTexts",
    "ConfigKey",
    "ConsentConfig",
    "ConsentModeConfig",
    "ConsentSignal",
    "CookieRule",
    "GatewayConfig",
    "PrivacyConfig",
    "RegionDefault",
    "RetentionConfig",
    "ServerConfig",
    "SiteConfig",
    "StorageConfig",
    "apply_env_overrides",
    "config_keys",
    "config_notes",
    "config_reference_markdown",
    "parse_config",
]
