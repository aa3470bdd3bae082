"""SQL adapters of the CRM store: SQLite (a file) and PostgreSQL (psycopg 3). Same tables, same SQL.

Tables (created when missing)::

    customers          customer_id PK, version, change_id, name, phones, emails, confidence,
                       confidence_reasons, first_seen, last_seen, event_count, touchpoints,
                       updated_window_end          (arrays as JSON: TEXT in SQLite, JSONB in PostgreSQL)
    touchpoint_records (touchpoint, source_id) PK, customer_id, window_end
    applied_changes    change_id PK, customer_id, version, change
    redirects          old_id PK, survivor_id
    released_records   ref_digest PK, window_end   (sha-256 of a ref no customer holds now, with
                                                    the window it was let go in; never the raw source id)
    customer_sources   (customer_id, touchpoint, source_id) PK   (each customer's latest record's source_ids:
                                                    a record shared by several customers is listed under each)
    erased_records     ref_digest PK               (sha-256 of a touchpoint record of an erased customer)
    erased_events      event_id PK                 (interactions deleted as erased people's: later copies stay out)
    interactions       event_id PK, customer_id (as published), touchpoint, source_id, interaction,
                       occurred_at, attributes (a JSON object)

Timestamps are epoch milliseconds (BIGINT). Both adapters run in autocommit mode outside
`transaction()`, so a read never leaves a transaction open. Lists are sorted in Python (code
point order), whatever the database's collation.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from streams.crm.errors import CrmUnavailable
from streams.crm.model import AppliedChange, CustomerRow, InteractionRow, SourceRef, TouchpointRecord
from streams.crm.writes import (
    ClaimRecord,
    DeleteCustomer,
    DropRedirect,
    EraseEvent,
    EraseRecord,
    MarkApplied,
    PruneApplied,
    PutCustomer,
    PutInteraction,
    PutRedirect,
    ReleaseRecord,
    SetSources,
    Write,
)

__all__ = ["PostgresCrmStore", "SqliteCrmStore"]

_CUSTOMER_COLUMNS = (
    "customer_id",
    "version",
    "change_id",
    "name",
    "phones",
    "emails",
    "confidence",
    "confidence_reasons",
    "first_seen",
    "last_seen",
    "event_count",
    "touchpoints",
    "updated_window_end",
)
_JSON_COLUMNS = frozenset({"phones", "emails", "confidence_reasons", "touchpoints"})

_DDL = (
    """CREATE TABLE IF NOT EXISTS customers (
        customer_id TEXT PRIMARY KEY,
        version BIGINT NOT NULL,
        change_id TEXT,
        name TEXT,
        phones {json} NOT NULL,
        emails {json} NOT NULL,
        confidence DOUBLE PRECISION NOT NULL,
        confidence_reasons {json} NOT NULL,
        first_seen BIGINT,
        last_seen BIGINT,
        event_count BIGINT NOT NULL,
        touchpoints {json} NOT NULL,
        updated_window_end BIGINT)""",
    """CREATE TABLE IF NOT EXISTS touchpoint_records (
        touchpoint TEXT NOT NULL,
        source_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        window_end BIGINT NOT NULL,
        PRIMARY KEY (touchpoint, source_id))""",
    "CREATE INDEX IF NOT EXISTS touchpoint_records_customer ON touchpoint_records (customer_id)",
    """CREATE TABLE IF NOT EXISTS applied_changes (
        change_id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        change TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS applied_changes_customer ON applied_changes (customer_id, version)",
    "CREATE TABLE IF NOT EXISTS redirects (old_id TEXT PRIMARY KEY, survivor_id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS redirects_survivor ON redirects (survivor_id)",
    "CREATE TABLE IF NOT EXISTS released_records (ref_digest TEXT PRIMARY KEY, window_end BIGINT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS customer_sources (
        customer_id TEXT NOT NULL,
        touchpoint TEXT NOT NULL,
        source_id TEXT NOT NULL,
        PRIMARY KEY (customer_id, touchpoint, source_id))""",
    "CREATE INDEX IF NOT EXISTS customer_sources_ref ON customer_sources (touchpoint, source_id)",
    "CREATE TABLE IF NOT EXISTS erased_records (ref_digest TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS erased_events (event_id TEXT PRIMARY KEY)",
    """CREATE TABLE IF NOT EXISTS interactions (
        event_id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        touchpoint TEXT NOT NULL,
        source_id TEXT NOT NULL,
        interaction TEXT NOT NULL,
        occurred_at BIGINT NOT NULL,
        attributes {json} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS interactions_customer ON interactions (customer_id)",
    "CREATE INDEX IF NOT EXISTS interactions_ref ON interactions (touchpoint, source_id)",
)

_INTERACTION_COLUMNS = (
    "event_id",
    "customer_id",
    "touchpoint",
    "source_id",
    "interaction",
    "occurred_at",
    "attributes",
)
_SELECT_INTERACTIONS = f"SELECT {', '.join(_INTERACTION_COLUMNS)} FROM interactions"
#: Ids per `IN (...)` list: far below SQLite's and PostgreSQL's parameter limits.
_IN_CHUNK = 500

_PUT_CUSTOMER = (
    f"INSERT INTO customers ({', '.join(_CUSTOMER_COLUMNS)}) VALUES ({', '.join('?' for _ in _CUSTOMER_COLUMNS)})"
    " ON CONFLICT (customer_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _CUSTOMER_COLUMNS[1:])
)
_CLAIM = (
    "INSERT INTO touchpoint_records (touchpoint, source_id, customer_id, window_end) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (touchpoint, source_id) DO UPDATE SET customer_id = excluded.customer_id,"
    " window_end = excluded.window_end"
)
_PUT_REDIRECT = (
    "INSERT INTO redirects (old_id, survivor_id) VALUES (?, ?)"
    " ON CONFLICT (old_id) DO UPDATE SET survivor_id = excluded.survivor_id"
)
_RELEASE = (
    "INSERT INTO released_records (ref_digest, window_end) VALUES (?, ?)"
    " ON CONFLICT (ref_digest) DO UPDATE SET window_end = excluded.window_end"
)
_PUT_INTERACTION = (
    f"INSERT INTO interactions ({', '.join(_INTERACTION_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _INTERACTION_COLUMNS)})"
    " ON CONFLICT (event_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _INTERACTION_COLUMNS[1:])
)
_SOURCE = (
    "INSERT INTO customer_sources (customer_id, touchpoint, source_id) VALUES (?, ?, ?)"
    " ON CONFLICT (customer_id, touchpoint, source_id) DO NOTHING"
)
_ERASE_RECORD = "INSERT INTO erased_records (ref_digest) VALUES (?) ON CONFLICT (ref_digest) DO NOTHING"
_MARK = (
    "INSERT INTO applied_changes (change_id, customer_id, version, change) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (change_id) DO NOTHING"
)


class _SqlCrmStore:
    """The shared SQL of both adapters. Subclasses supply the connection and the dialect hooks."""

    _json_type = "TEXT"

    def __init__(self) -> None:
        self._closed = False
        with self.transaction():
            for ddl in _DDL:
                self._exec(ddl.format(json=self._json_type))

    # -- dialect hooks -------------------------------------------------------------------------

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def _json_in(self, value: Sequence[str]) -> Any:
        return json.dumps(list(value), ensure_ascii=False)

    def _json_out(self, value: Any) -> tuple[str, ...]:
        return tuple(json.loads(value) if isinstance(value, str) else value)

    def _json_object_in(self, value: dict[str, str]) -> Any:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def close(self) -> None:
        raise NotImplementedError

    # -- view ----------------------------------------------------------------------------------

    def customer(self, customer_id: str) -> CustomerRow | None:
        row = self._exec(
            f"SELECT {', '.join(_CUSTOMER_COLUMNS)} FROM customers WHERE customer_id = ?", (customer_id,)
        ).fetchone()
        return None if row is None else self._customer(row)

    def latest_change(self, customer_id: str) -> AppliedChange | None:
        row = self._exec(
            "SELECT change_id, customer_id, version, change FROM applied_changes WHERE customer_id = ?"
            " ORDER BY version DESC LIMIT 1",
            (customer_id,),
        ).fetchone()
        return None if row is None else AppliedChange(row[0], row[1], int(row[2]), row[3])

    def is_applied(self, change_id: str) -> bool:
        return self._exec("SELECT 1 FROM applied_changes WHERE change_id = ?", (change_id,)).fetchone() is not None

    def record(self, ref: SourceRef) -> TouchpointRecord | None:
        row = self._exec(
            "SELECT customer_id, window_end FROM touchpoint_records WHERE touchpoint = ? AND source_id = ?",
            (ref.touchpoint, ref.source_id),
        ).fetchone()
        return None if row is None else TouchpointRecord(ref, row[0], int(row[1]))

    def records_of(self, customer_id: str) -> list[TouchpointRecord]:
        rows = self._exec(
            "SELECT touchpoint, source_id, customer_id, window_end FROM touchpoint_records"
            " WHERE customer_id = ? ORDER BY touchpoint, source_id",
            (customer_id,),
        ).fetchall()
        return sorted((TouchpointRecord(SourceRef(r[0], r[1]), r[2], int(r[3])) for r in rows), key=lambda t: t.ref)

    def released_at(self, ref: SourceRef) -> int | None:
        row = self._exec("SELECT window_end FROM released_records WHERE ref_digest = ?", (ref.digest(),)).fetchone()
        return None if row is None else int(row[0])

    def redirect(self, old_id: str) -> str | None:
        row = self._exec("SELECT survivor_id FROM redirects WHERE old_id = ?", (old_id,)).fetchone()
        return None if row is None else str(row[0])

    def redirected_to(self, survivor_id: str) -> list[str]:
        rows = self._exec(
            "SELECT old_id FROM redirects WHERE survivor_id = ? ORDER BY old_id", (survivor_id,)
        ).fetchall()
        return sorted(str(r[0]) for r in rows)

    def sources_of(self, customer_id: str) -> list[SourceRef]:
        rows = self._exec(
            "SELECT touchpoint, source_id FROM customer_sources WHERE customer_id = ?", (customer_id,)
        ).fetchall()
        return sorted(SourceRef(r[0], r[1]) for r in rows)

    def holders(self, ref: SourceRef) -> list[str]:
        rows = self._exec(
            "SELECT customer_id FROM customer_sources WHERE touchpoint = ? AND source_id = ?",
            (ref.touchpoint, ref.source_id),
        ).fetchall()
        return sorted(str(r[0]) for r in rows)

    def is_erased_record(self, ref: SourceRef) -> bool:
        return self._exec("SELECT 1 FROM erased_records WHERE ref_digest = ?", (ref.digest(),)).fetchone() is not None

    def is_erased_event(self, event_id: str) -> bool:
        return self._exec("SELECT 1 FROM erased_events WHERE event_id = ?", (event_id,)).fetchone() is not None

    def interaction(self, event_id: str) -> InteractionRow | None:
        row = self._exec(f"{_SELECT_INTERACTIONS} WHERE event_id = ?", (event_id,)).fetchone()
        return None if row is None else self._interaction(row)

    def interactions_of(self, customer_ids: Iterable[str]) -> list[InteractionRow]:
        ids = sorted(set(customer_ids))
        out: list[InteractionRow] = []
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = self._exec(f"{_SELECT_INTERACTIONS} WHERE customer_id IN ({marks})", chunk).fetchall()
            out.extend(self._interaction(r) for r in rows)
        return sorted(out, key=lambda r: r.event_id)

    def interactions_at(self, ref: SourceRef) -> list[InteractionRow]:
        rows = self._exec(
            f"{_SELECT_INTERACTIONS} WHERE touchpoint = ? AND source_id = ?", (ref.touchpoint, ref.source_id)
        ).fetchall()
        return sorted((self._interaction(r) for r in rows), key=lambda r: r.event_id)

    # -- store ---------------------------------------------------------------------------------

    def execute(self, writes: Iterable[Write]) -> None:
        for w in writes:
            match w:
                case PutCustomer(row=row):
                    self._exec(_PUT_CUSTOMER, self._customer_params(row))
                case DeleteCustomer(customer_id=cid):
                    self._exec("DELETE FROM customers WHERE customer_id = ?", (cid,))
                case ClaimRecord(ref=ref, customer_id=cid, window_end=end):
                    self._exec(_CLAIM, (ref.touchpoint, ref.source_id, cid, end))
                    self._exec("DELETE FROM released_records WHERE ref_digest = ?", (ref.digest(),))
                case ReleaseRecord(ref=ref, window_end=end):
                    self._exec(
                        "DELETE FROM touchpoint_records WHERE touchpoint = ? AND source_id = ?",
                        (ref.touchpoint, ref.source_id),
                    )
                    self._exec(_RELEASE, (ref.digest(), end))
                case PutRedirect(old_id=old, survivor_id=survivor):
                    self._exec(_PUT_REDIRECT, (old, survivor))
                case DropRedirect(old_id=old):
                    self._exec("DELETE FROM redirects WHERE old_id = ?", (old,))
                case MarkApplied(change=a):
                    self._exec(_MARK, (a.change_id, a.customer_id, a.version, a.change))
                case PruneApplied(customer_id=cid, keep_from=keep):
                    self._exec("DELETE FROM applied_changes WHERE customer_id = ? AND version < ?", (cid, keep))
                case SetSources(customer_id=cid, refs=refs):
                    self._exec("DELETE FROM customer_sources WHERE customer_id = ?", (cid,))
                    for ref in sorted(set(refs)):
                        self._exec(_SOURCE, (cid, ref.touchpoint, ref.source_id))
                case EraseRecord(ref=ref):
                    self._exec(_ERASE_RECORD, (ref.digest(),))
                case PutInteraction(row=row):
                    self._exec(_PUT_INTERACTION, self._interaction_params(row))
                case EraseEvent(event_id=eid):
                    self._exec("DELETE FROM interactions WHERE event_id = ?", (eid,))
                    self._exec(
                        "INSERT INTO erased_events (event_id) VALUES (?) ON CONFLICT (event_id) DO NOTHING", (eid,)
                    )

    def customers(self) -> list[CustomerRow]:
        rows = self._exec(f"SELECT {', '.join(_CUSTOMER_COLUMNS)} FROM customers ORDER BY customer_id").fetchall()
        return sorted((self._customer(r) for r in rows), key=lambda c: c.customer_id)

    def touchpoint_records(self) -> list[TouchpointRecord]:
        rows = self._exec(
            "SELECT touchpoint, source_id, customer_id, window_end FROM touchpoint_records"
            " ORDER BY touchpoint, source_id"
        ).fetchall()
        return sorted((TouchpointRecord(SourceRef(r[0], r[1]), r[2], int(r[3])) for r in rows), key=lambda t: t.ref)

    def redirects(self) -> dict[str, str]:
        rows = self._exec("SELECT old_id, survivor_id FROM redirects ORDER BY old_id").fetchall()
        return dict(sorted((str(r[0]), str(r[1])) for r in rows))

    def applied_changes(self) -> list[AppliedChange]:
        rows = self._exec(
            "SELECT change_id, customer_id, version, change FROM applied_changes"
            " ORDER BY customer_id, version, change_id"
        ).fetchall()
        return sorted(
            (AppliedChange(r[0], r[1], int(r[2]), r[3]) for r in rows),
            key=lambda a: (a.customer_id, a.version, a.change_id),
        )

    def released_records(self) -> dict[str, int]:
        rows = self._exec("SELECT ref_digest, window_end FROM released_records ORDER BY ref_digest").fetchall()
        return dict(sorted((str(r[0]), int(r[1])) for r in rows))

    def customer_sources(self) -> dict[str, tuple[SourceRef, ...]]:
        rows = self._exec("SELECT customer_id, touchpoint, source_id FROM customer_sources").fetchall()
        out: dict[str, list[SourceRef]] = {}
        for r in rows:
            out.setdefault(str(r[0]), []).append(SourceRef(r[1], r[2]))
        return {cid: tuple(sorted(refs)) for cid, refs in sorted(out.items())}

    def erased_records(self) -> list[str]:
        return sorted(str(r[0]) for r in self._exec("SELECT ref_digest FROM erased_records").fetchall())

    def erased_events(self) -> list[str]:
        return sorted(str(r[0]) for r in self._exec("SELECT event_id FROM erased_events").fetchall())

    def interactions(self) -> list[InteractionRow]:
        rows = self._exec(_SELECT_INTERACTIONS).fetchall()
        return sorted((self._interaction(r) for r in rows), key=lambda r: r.event_id)

    # -- rows ----------------------------------------------------------------------------------

    def _interaction_params(self, row: InteractionRow) -> tuple[Any, ...]:
        return (
            row.event_id,
            row.customer_id,
            row.ref.touchpoint,
            row.ref.source_id,
            row.interaction,
            row.occurred_at,
            self._json_object_in(dict(row.attributes)),
        )

    def _interaction(self, r: Sequence[Any]) -> InteractionRow:
        attributes = json.loads(r[6]) if isinstance(r[6], str) else r[6]
        return InteractionRow(
            event_id=r[0],
            customer_id=r[1],
            ref=SourceRef(r[2], r[3]),
            interaction=r[4],
            occurred_at=int(r[5]),
            attributes=tuple(sorted((str(k), str(v)) for k, v in attributes.items())),
        )

    def _customer_params(self, row: CustomerRow) -> tuple[Any, ...]:
        values = row.to_dict()
        return tuple(self._json_in(values[c]) if c in _JSON_COLUMNS else values[c] for c in _CUSTOMER_COLUMNS)

    def _customer(self, r: Sequence[Any]) -> CustomerRow:
        v = dict(zip(_CUSTOMER_COLUMNS, r, strict=True))
        return CustomerRow(
            customer_id=v["customer_id"],
            version=int(v["version"]),
            change_id=v["change_id"],
            name=v["name"],
            phones=self._json_out(v["phones"]),
            emails=self._json_out(v["emails"]),
            confidence=float(v["confidence"]),
            confidence_reasons=self._json_out(v["confidence_reasons"]),
            first_seen=None if v["first_seen"] is None else int(v["first_seen"]),
            last_seen=None if v["last_seen"] is None else int(v["last_seen"]),
            event_count=int(v["event_count"]),
            touchpoints=self._json_out(v["touchpoints"]),
            updated_window_end=None if v["updated_window_end"] is None else int(v["updated_window_end"]),
        )


class SqliteCrmStore(_SqlCrmStore):
    """The CRM in a SQLite file (created with its parent directory when missing).

    WAL lets readers (`irl evaluate --crm`) look while the connector writes; synchronous=FULL
    because consumer offsets are committed right after our commit, which must be durable by then.
    Usable from one thread at a time (the connector hands it to a worker thread per batch).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        except (OSError, sqlite3.Error) as exc:
            raise CrmUnavailable(f"cannot open SQLite database {path}: {exc}") from exc
        self._in_tx = False
        super().__init__()

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(sql, tuple(params))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            raise RuntimeError("transactions do not nest")
        self._conn.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._in_tx = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._conn.close()


class PostgresCrmStore(_SqlCrmStore):
    """The CRM in PostgreSQL (psycopg 3, `pip install 'irl[postgres]'`). Arrays are JSONB."""

    _json_type = "JSONB"

    def __init__(self, url: str, connect_timeout_s: int = 10) -> None:
        try:
            import psycopg
            from psycopg.types.json import Jsonb
        except ImportError as exc:
            raise CrmUnavailable("PostgreSQL needs psycopg: pip install 'irl[postgres]'") from exc
        self._jsonb = Jsonb
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout_s)
        except psycopg.Error as exc:
            # The message of a failed connection names host and port, never the password.
            raise CrmUnavailable(f"cannot connect to PostgreSQL: {str(exc).strip()}") from exc
        super().__init__()

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        # Our SQL uses `?` placeholders (SQLite's); psycopg's are `%s`. No literal `?` or `%` occurs.
        return self._conn.execute(sql.replace("?", "%s"), tuple(params))

    def _json_in(self, value: Sequence[str]) -> Any:
        return self._jsonb(list(value))

    def _json_object_in(self, value: dict[str, str]) -> Any:
        return self._jsonb(value)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._conn.transaction():
            yield

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._conn.close()
