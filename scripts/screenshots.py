"""Retake the banner screenshots in docs/img/ (run on demand: .venv/bin/python
scripts/screenshots.py). Starts a real gateway on a free port and drives Chromium."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import LiveServer  # noqa: E402
from tests.support.browser import chromium  # noqa: E402

SHOTS = (
    ("banner-first-layer.png", {"width": 1000, "height": 640}, False),
    ("banner-settings.png", {"width": 1000, "height": 760}, True),
    ("banner-mobile-375.png", {"width": 375, "height": 720}, False),
    ("banner-settings-mobile-375.png", {"width": 375, "height": 720}, True),
)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        server = LiveServer(Path(tmp)).start()
        try:
            for name, viewport, settings in SHOTS:
                context = browser.new_context(viewport=viewport,  # type: ignore[arg-type]
                                              extra_http_headers={"Accept-Language": "nl"})
                page = context.new_page()
                page.goto(server.url + "/")
                page.get_by_role("dialog").wait_for()
                if settings:
                    page.get_by_role("button", name="Instellingen").click()
                page.screenshot(path=str(REPO / "docs" / "img" / name))
                context.close()
                print(f"docs/img/{name}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
