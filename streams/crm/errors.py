"""Errors of the CRM connector. The type says what to do::

    CrmError                  root; never raised itself
    ├── CrmUrlError           the --db URL is malformed or names an unknown backend: fix the URL
    ├── CrmUnavailable        the database cannot be opened or reached: start it, then retry
    └── CrmSourceUnavailable  the broker or the schema registry cannot be reached, or the topic does not
                              exist: start it, create the topics (`irl topics create`), then retry

A record that cannot be applied (undecodable, or inconsistent such as ABSORBED without a
survivor) is not an error: it is an `Outcome`, counted and skipped.
"""

from __future__ import annotations

__all__ = ["CrmError", "CrmSourceUnavailable", "CrmUnavailable", "CrmUrlError"]


class CrmError(Exception):
    """Root of the CRM connector's errors."""


class CrmUrlError(CrmError, ValueError):
    """The CRM URL is malformed or names an unsupported backend. Fix the URL."""


class CrmUnavailable(CrmError):
    """The CRM database cannot be opened or reached. Start it (scripts/postgres.sh start) and retry."""


class CrmSourceUnavailable(CrmError):
    """Kafka cannot be reached or the resolved topic does not exist. Start it, run `irl topics create`, retry."""
