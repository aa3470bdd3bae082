"""The reference CRM connector: applies the resolved-customer changelog to a CRM database.

Modules: `model` (rows as values), `writes` (write operations as values), `apply` (the pure
rules: record -> writes), `owners` (who holds an interaction now, and which are an erased
person's), `store` (the port and its in-memory adapter), `sql` (SQLite and PostgreSQL
adapters), `url` (which store a URL opens), `sync` (the consumer loop of both topics),
`timeline` (one customer's interactions), `reading` (what the CRM holds, for evaluation and
the demo). The contract: docs/crm-connector.md.
"""

from streams.crm.apply import (
    Plan,
    apply_batch,
    apply_change,
    apply_interaction,
    apply_records,
    plan_change,
    plan_interaction,
)
from streams.crm.errors import CrmError, CrmSourceUnavailable, CrmUnavailable, CrmUrlError
from streams.crm.model import AppliedChange, CustomerRow, InteractionRow, Outcome, SourceRef, TouchpointRecord
from streams.crm.owners import owner
from streams.crm.reading import (
    assignments_from_crm,
    crm_customers,
    crm_duplicates,
    crm_timeline,
    event_assignments_from_crm,
)
from streams.crm.sql import PostgresCrmStore, SqliteCrmStore
from streams.crm.store import CrmStore, CrmView, InMemoryCrmStore
from streams.crm.sync import BATCH_RECORDS, SyncReport, sync_crm
from streams.crm.timeline import Timeline, event_owners, timeline
from streams.crm.url import DEFAULT_CRM_URL, open_store, safe_url

__all__ = [
    "BATCH_RECORDS",
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
    "InteractionRow",
    "Outcome",
    "Plan",
    "PostgresCrmStore",
    "SourceRef",
    "SqliteCrmStore",
    "SyncReport",
    "Timeline",
    "TouchpointRecord",
    "apply_batch",
    "apply_change",
    "apply_interaction",
    "apply_records",
    "assignments_from_crm",
    "crm_customers",
    "crm_duplicates",
    "crm_timeline",
    "event_assignments_from_crm",
    "event_owners",
    "open_store",
    "owner",
    "plan_change",
    "plan_interaction",
    "safe_url",
    "sync_crm",
    "timeline",
]
