"""CRM URLs: which store a `--db` URL opens, and how to show one without its password.

sqlite:///crm.db             a file relative to the working directory
sqlite:////var/lib/crm.db    an absolute path (four slashes)
postgresql://user@host:port/db   (also postgres://; any libpq URI parameter)
memory://                    an in-memory store (tests; gone when the process ends)
"""

from __future__ import annotations

import urllib.parse

from streams.crm.errors import CrmUrlError
from streams.crm.sql import PostgresCrmStore, SqliteCrmStore
from streams.crm.store import CrmStore, InMemoryCrmStore

__all__ = ["DEFAULT_CRM_URL", "open_store", "safe_url"]

DEFAULT_CRM_URL = "sqlite:///crm.db"


def open_store(url: str) -> CrmStore:
    """Open (and create the tables of) the store the URL names.

    Raises CrmUrlError for a malformed or unsupported URL, CrmUnavailable when it cannot be opened.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise CrmUrlError(f"not a URL: {safe_url(url)!r} (try sqlite:///crm.db or postgresql://...)")
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise CrmUrlError("a SQLite URL names a file: sqlite:///relative.db or sqlite:////absolute.db")
        return SqliteCrmStore(urllib.parse.unquote(rest[1:].split("?", 1)[0]))
    if scheme in ("postgresql", "postgres"):
        return PostgresCrmStore(url)
    if scheme == "memory":
        return InMemoryCrmStore()
    raise CrmUrlError(f"unsupported CRM URL scheme {scheme!r}: use sqlite:// or postgresql://")


def safe_url(url: str) -> str:
    """The URL with any password replaced by `***` (for logs and messages)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
