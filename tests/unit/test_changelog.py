"""Changelog records: change kinds, versions without gaps, deterministic change ids."""

from __future__ import annotations

from typing import Any

from resolver.batching import PendingWindow
from resolver.changelog import Changelog, change_id
from resolver.window import Window

W0 = Window(0, 900_000)
W1 = Window(900_000, 1_800_000)


class _Profile:
    def __init__(self, cid: str, phones: list[str]) -> None:
        self.cid, self.phones = cid, phones

    def to_record(self) -> dict[str, Any]:
        return {"customer_id": self.cid, "phones": self.phones, "event_count": len(self.phones), "confidence": 0.9}


class _View:
    def __init__(self, live: dict[str, list[str]], moved: dict[str, str]) -> None:
        self.live, self.moved = live, moved

    def current_id(self, cid: str) -> str | None:
        while cid in self.moved:
            cid = self.moved[cid]
        return cid if cid in self.live else None

    def profile(self, cid: str) -> _Profile | None:
        return _Profile(cid, self.live[cid]) if cid in self.live else None


def test_created_then_merged_then_absorbed() -> None:
    log = Changelog()
    view = _View({"a": ["+1"], "b": ["+2"]}, {})
    recs = log.build(PendingWindow(W0, touched={"a", "b"}, created={"a", "b"}), {}, view)
    assert [(r["customer_id"], r["change"], r["version"]) for r in recs] == [("a", "CREATED", 1), ("b", "CREATED", 1)]

    view = _View({"a": ["+1", "+2"]}, {"b": "a"})
    chunk = PendingWindow(W1, touched={"a"}, absorbed={"b": "a"})
    recs = log.build(chunk, {"b": "a"}, view)
    by_id = {r["customer_id"]: r for r in recs}
    assert by_id["a"]["change"] == "MERGED" and by_id["a"]["merged_from"] == ["b"] and by_id["a"]["version"] == 2
    assert by_id["b"]["change"] == "ABSORBED" and by_id["b"]["survivor_id"] == "a" and by_id["b"]["version"] == 2
    assert by_id["b"]["phones"] == []
    assert all(r["window_start"] == W1.start and r["window_end"] == W1.end for r in recs)


def test_an_id_the_crm_never_saw_is_announced_absorbed_not_merged() -> None:
    """Created and absorbed within one window (audit s38, B1): its interactions were published under it, so
    the CRM gets its redirect (ABSORBED, version 1); the survivor's ``merged_from`` lists only ids the CRM
    held, so it is CREATED, not MERGED."""
    log = Changelog()
    view = _View({"a": ["+1"]}, {"b": "a"})
    recs = log.build(PendingWindow(W0, touched={"a"}, created={"a", "b"}, absorbed={"b": "a"}), {"b": "a"}, view)
    got = [(r["customer_id"], r["change"], r["merged_from"], r["survivor_id"], r["version"]) for r in recs]
    assert got == [("a", "CREATED", [], None, 1), ("b", "ABSORBED", [], "a", 1)]
    assert recs[1]["phones"] == [] and recs[1]["name"] is None  # no personal data on an ABSORBED


def test_an_id_the_crm_never_saw_is_erased_when_its_person_is() -> None:
    """Created and erased within one window: ERASED, version 1, so that the CRM deletes what was published under it."""
    log = Changelog()
    view = _View({}, {})
    recs = log.build(PendingWindow(W0, created={"b"}, erased={"b"}), {}, view)
    assert [(r["customer_id"], r["change"], r["survivor_id"], r["version"]) for r in recs] == [("b", "ERASED", None, 1)]


def test_change_id_is_deterministic_and_content_sensitive() -> None:
    view = _View({"a": ["+1"]}, {})
    r1 = Changelog().build(PendingWindow(W0, touched={"a"}), {}, view)[0]
    r2 = Changelog().build(PendingWindow(W0, touched={"a"}), {}, view)[0]
    assert r1 == r2 and r1["change_id"] == change_id(r1)
    r3 = Changelog().build(PendingWindow(W1, touched={"a"}), {}, view)[0]
    assert r3["change_id"] != r1["change_id"]


def test_versions_survive_restore() -> None:
    log = Changelog()
    view = _View({"a": ["+1"]}, {})
    log.build(PendingWindow(W0, touched={"a"}), {}, view)
    restored = Changelog.restore((k, v) for k, v in log.drain_changes().items() if v is not None)
    rec = restored.build(PendingWindow(W1, touched={"a"}), {}, view)[0]
    assert (rec["version"], rec["change"]) == (2, "UPDATED")
