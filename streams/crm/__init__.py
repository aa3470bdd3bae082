"""The reference CRM connector: applies the resolved-customer changelog to a CRM database.

Modules: `model` (rows as values), `writes` (write operations as values), `apply` (the pure
rules: record -> writes), `store` (the port and its in-memory adapter), `sql` (SQLite and
PostgreSQL adapters), `url` (which store a URL opens), `sync` (the consumer loop),
`reading` (what the CRM holds, for evaluation). The contract: docs/crm-connector.md.
"""

from streams.crm.apply import Plan, apply_batch, apply_change, plan_change
from streams.crm.errors import CrmError, CrmSourceUnavailable, CrmUnavailable, CrmUrlError
from streams.crm.model import AppliedChange, CustomerRow, Outcome, SourceRef, TouchpointRecord
from streams.crm.reading import assignments_from_crm, crm_customers, crm_duplicates
from streams.crm.sql import PostgresCrmStore, SqliteCrmStore
from streams.crm.store import CrmStore, CrmView, InMemoryCrmStore
from streams.crm.sync import SyncReport, sync_crm
from streams.crm.url import DEFAULT_CRM_URL, open_store, safe_url

__all__ = [
    "DEFAULT_CRM_URL",
    "AppliedChange",
    "CrmError",
    "CrmSourceUnavailable",
    "CrmStore",
    "CrmUnavailable",
    "CrmUrlError",
    "CrmView",
    "CustomerRow",
    "InMemoryCrmStore",
    "Outcome",
    "Plan",
    "PostgresCrmStore",
    "SourceRef",
    "SqliteCrmStore",
    "SyncReport",
    "TouchpointRecord",
    "apply_batch",
    "apply_change",
    "assignments_from_crm",
    "crm_customers",
    "crm_duplicates",
    "open_store",
    "plan_change",
    "safe_url",
    "sync_crm",
]
