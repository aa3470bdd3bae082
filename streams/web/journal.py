"""What this worker published to the CRM: recent records per customer, change counts per window.

In memory only, bounded, and since this worker started (the changelog topic is the full
record). The single writer feeds it with `record_published(rt, step.records)` after it
sends a step's outputs; the views read it for a customer's history and for the merges and
splits per window.
"""

from __future__ import annotations

import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from streams.runtime import Runtime

__all__ = ["Journal", "journal_of", "record_published"]

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
            cid = str(rec.get("customer_id"))
            change = str(rec.get("change"))
            entry = {k: rec.get(k) for k in _KEPT_FIELDS}
            entries = self._history.pop(cid, [])
            entries.append(entry)
            self._history[cid] = entries[-self._per_customer :]
            while len(self._history) > self._max_customers:
                self._history.popitem(last=False)
            window = (int(rec.get("window_start") or 0), int(rec.get("window_end") or 0))
            counts = self._windows.get(window)
            if counts is None:
                counts = self._windows[window] = Counter()
                while len(self._windows) > self._max_windows:
                    self._windows.popitem(last=False)
            counts[change] += 1
            self.totals[change] += 1

    def history(self, customer_id: str) -> list[dict[str, Any]]:
        """The records published for ``customer_id`` (oldest first), as far as remembered."""
        return [dict(e) for e in self._history.get(customer_id, ())]

    def windows(self) -> list[dict[str, Any]]:
        """Change counts per published window, newest first."""
        out = []
        for (start, end), counts in sorted(self._windows.items(), reverse=True):
            out.append({"window_start": start, "window_end": end, "changes": dict(sorted(counts.items()))})
        return out


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
