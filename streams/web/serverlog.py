"""What aiohttp's server logs of a request it could not parse: one line, never the request.

aiohttp logs a malformed or over-long request line on ``aiohttp.server`` with its traceback,
and the exception quotes the first 100 bytes of the line: a ``?token=`` and an email in the
query string ended up in the worker log (issue 17). `quiet_bad_requests` installs a filter
that rewrites such a record to one warning naming the client address, the kind of error
and the status answered, without exception text or traceback. Other records pass unchanged.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["SERVER_LOGGER", "quiet_bad_requests"]

#: The logger aiohttp's request handler writes to (`aiohttp.log.server_logger`).
SERVER_LOGGER = "aiohttp.server"


class _BadRequestFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "bad HTTP request from %s: %s, answered %s (request not logged: it may hold secrets)"
            record.args = (remote, type(exc).__name__, exc.code)
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_bad_requests(logger: logging.Logger | None = None) -> None:
    """Install the filter on aiohttp's server logger (once; calling again changes nothing)."""
    target = logger or logging.getLogger(SERVER_LOGGER)
    if not any(isinstance(f, _BadRequestFilter) for f in target.filters):
        target.addFilter(_BadRequestFilter())
