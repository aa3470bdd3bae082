"""What this worker published to the CRM: recent records per customer, change counts per window.

In memory only, bounded, and since this worker started (the changelog topic is the full
record). The single writer feeds it with `record_published(rt, step.records)` after it
sends a step's outputs; with the per-customer stage over Kafka (``IRL_CUSTOMER_STAGE=kafka``)
that stage feeds it with the records its partitions on this worker published: in the
worker's process through `rt.on_published`, from its child process through a `JournalFeed`
in the child's reports (`Journal.merge`). The views read it for a customer's history and for
the merges and splits per window.
"""

from __future__ import annotations

import weakref
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Mapping
from typing import Any

from streams.runtime import Runtime

__all__ = ["Journal", "JournalFeed", "journal_of", "record_published"]

_KEPT_FIELDS = ("version", "change", "window_start", "window_end", "survivor_id", "merged_from", "change_id")


class Journal:
    """Bounded memory of published records: LRU over customers, newest windows kept."""

    def __init__(self, max_customers: int = 50_000, per_customer: int = 10, max_windows: int = 96) -> None:
        self._max_customers = max_customers
        self._per_customer = per_customer
        self._max_windows = max_windows
        self._history: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._windows: OrderedDict[tuple[int, int], Counter[str]] = OrderedDict()
        self.totals: Counter[str] = Counter()

    def record(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Remember published ResolvedCustomer records (no personal fields are kept)."""
        for rec in records:
            self._remember(str(rec.get("customer_id")), _kept(rec))
            self._count(_window(rec), str(rec.get("change")), 1)

    def merge(self, report: Mapping[str, Any]) -> None:
        """Add what a `JournalFeed` took (`JournalFeed.take`): its window counts, then its records' kept fields."""
        for start, end, counts in report.get("windows", ()):
            for change, n in counts.items():
                self._count((int(start), int(end)), str(change), int(n))
        for cid, entry in report.get("history", ()):
            self._remember(str(cid), {k: entry.get(k) for k in _KEPT_FIELDS})

    def _remember(self, cid: str, entry: dict[str, Any]) -> None:
        entries = self._history.pop(cid, [])
        entries.append(entry)
        self._history[cid] = entries[-self._per_customer :]
        while len(self._history) > self._max_customers:
            self._history.popitem(last=False)

    def _count(self, window: tuple[int, int], change: str, n: int) -> None:
        counts = self._windows.get(window)
        if counts is None:
            counts = self._windows[window] = Counter()
            while len(self._windows) > self._max_windows:
                self._windows.popitem(last=False)
        counts[change] += n
        self.totals[change] += n

    def history(self, customer_id: str) -> list[dict[str, Any]]:
        """The records published for ``customer_id`` (oldest first), as far as remembered."""
        return [dict(e) for e in self._history.get(customer_id, ())]

    def windows(self) -> list[dict[str, Any]]:
        """Change counts per published window, newest first."""
        out = []
        for (start, end), counts in sorted(self._windows.items(), reverse=True):
            out.append({"window_start": start, "window_end": end, "changes": dict(sorted(counts.items()))})
        return out


class JournalFeed:
    """What a child process published since its last report, for its worker's `Journal` (`Journal.merge`).

    Bounded whatever the rate: every record counts in its window, and the newest
    `max_history` records' kept fields (no personal fields) go for the customers' histories.
    """

    def __init__(self, max_history: int = 500) -> None:
        self._windows: dict[tuple[int, int], Counter[str]] = {}
        self._history: deque[tuple[str, dict[str, Any]]] = deque(maxlen=max_history)

    def record(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Count every record in its window; keep the newest `max_history` records' kept fields.

        A fetch of the per-customer stage publishes thousands of records (about one per event
        of a backlog): only the last `max_history` of them can stay in the history, so only
        theirs are read out (s38: 2 to 3 us per record went on entries the deque dropped).
        """
        recs = records if isinstance(records, list) else list(records)
        windows = self._windows
        for rec in recs:
            key = _window(rec)
            counts = windows.get(key)
            if counts is None:
                counts = windows[key] = Counter()
            counts[str(rec.get("change"))] += 1
        history = self._history
        keep = history.maxlen
        tail = recs if keep is None or len(recs) <= keep else recs[len(recs) - keep :]
        history.extend((str(rec.get("customer_id")), _kept(rec)) for rec in tail)

    def take(self) -> dict[str, Any] | None:
        """What was recorded since the last call, as JSON-ready values (None: nothing)."""
        if not self._windows:
            return None
        out = {
            "windows": [[start, end, dict(counts)] for (start, end), counts in self._windows.items()],
            "history": [[cid, entry] for cid, entry in self._history],
        }
        self._windows = {}
        self._history.clear()
        return out


def _kept(rec: Mapping[str, Any]) -> dict[str, Any]:
    return {k: rec.get(k) for k in _KEPT_FIELDS}


def _window(rec: Mapping[str, Any]) -> tuple[int, int]:
    return int(rec.get("window_start") or 0), int(rec.get("window_end") or 0)


_JOURNALS: weakref.WeakKeyDictionary[Runtime, Journal] = weakref.WeakKeyDictionary()


def journal_of(rt: Runtime) -> Journal:
    """The journal of a runtime (created on first use)."""
    journal = _JOURNALS.get(rt)
    if journal is None:
        journal = _JOURNALS[rt] = Journal()
    return journal


def record_published(rt: Runtime, records: Iterable[Mapping[str, Any]]) -> None:
    """Call after sending a step's outputs: ``record_published(rt, step.records)``."""
    journal_of(rt).record(records)
