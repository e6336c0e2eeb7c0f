"""`server.log_format = "json"`: one JSON object per log line, for a log collector.

The gateway's own messages never name a client address or a secret; as a second line of
defence the formatter masks anything that looks like an IP address and the password of a
URL (`postgresql://user:secret@host` → `postgresql://user:***@host`), whoever logged it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any, Final

_IPV4: Final = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
# Compressed (`::`) or all eight groups: a clock time like 12:00:00 is neither.
_IPV6: Final = re.compile(
    r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4})*::[0-9A-Fa-f:]*"
    r"|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7})(?![\w:])")
_URL_PASSWORD: Final = re.compile(r"(\w+://[^:/@\s]*):[^@\s]*@")
LOGGERS: Final = ("consent_gateway", "uvicorn", "uvicorn.error")


def scrub(text: str) -> str:
    """`text` without IP addresses or URL passwords."""
    text = _URL_PASSWORD.sub(r"\1:***@", text)
    text = _IPV4.sub("[address]", text)
    return _IPV6.sub("[address]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        if record.exc_info:
            line["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def json_log_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` document (uvicorn's `log_config`) sending the gateway's
    and the server's lines to stderr as JSON. uvicorn's access log stays off."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json",
                              "stream": "ext://sys.stderr"}},
        "loggers": {name: {"handlers": ["json"], "level": level, "propagate": False}
                    for name in LOGGERS},
    }
