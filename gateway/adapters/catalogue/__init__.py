"""The data shipped in the package about third parties (adapter): the tracker catalogue
(`trackers.toml`) here, the known cookies in `cookie_database.py`.

Read through `importlib.resources`, so they work from a wheel as from a checkout, and once
per process.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files

from gateway.core.enforcement.catalogue import Catalogue, parse_catalogue

TRACKERS_FILE = "trackers.toml"


@cache
def load_catalogue() -> Catalogue:
    """The packaged tracker catalogue; `CatalogueError` if the file is wrong (a test keeps
    it right)."""
    data = files(__name__).joinpath(TRACKERS_FILE).read_bytes()
    return parse_catalogue(tomllib.loads(data.decode("utf-8")))
