"""Where the packaged files live: inside the wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

# This file is gateway/adapters/static_files.py: the package is two folders up.
_PACKAGE = Path(__file__).resolve().parents[1]
_CHECKOUT = _PACKAGE.parent


def static_dir() -> Path:
    installed = _PACKAGE / "static"
    return installed if installed.is_dir() else _CHECKOUT / "static"


def default_config_path() -> Path:
    """`config/gateway.toml` in the working directory, else the copy shipped with the package."""
    local = Path("config/gateway.toml")
    if local.is_file():
        return local
    installed = _PACKAGE / "default_config" / "gateway.toml"
    return installed if installed.is_file() else _CHECKOUT / "config" / "gateway.toml"
