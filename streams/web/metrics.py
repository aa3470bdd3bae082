"""Prometheus text exposition (format 0.0.4) of a stats snapshot, written by hand.

Contract: `render(snapshot)` is a pure function of `StatsCollector.snapshot`'s dict; every
metric has HELP and TYPE lines, counters end in ``_total``, label values are escaped, and
figures a standby worker does not have are left out rather than reported as zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CONTENT_TYPE", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[Mapping[str, str], float | int | None]],
    ) -> None:
        rows = [(labels, v) for labels, v in samples if v is not None]
        if not rows:
            return
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in rows:
            assert value is not None
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def one(self, name: str, kind: str, help_text: str, value: float | int | None) -> None:
        self.metric(name, kind, help_text, [({}, value)])


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


def render(snapshot: Mapping[str, Any]) -> str:
    """The Prometheus text of a stats snapshot (ends with a newline)."""
    w = _Writer()
    _worker_metrics(w, snapshot["worker"])
    _event_metrics(w, snapshot["events"])
    _window_metrics(w, snapshot["windows"])
    _change_metrics(w, snapshot.get("changes", {}).get("totals", {}))
    _lag_metrics(w, snapshot.get("consumer_lag"))
    _action_metrics(w, snapshot.get("actions", ()))
    resolver = snapshot.get("resolver")
    customers = snapshot.get("customers")
    if resolver:
        _resolver_metrics(w, resolver)
    quarantined = snapshot.get("quarantined")
    if quarantined:
        w.one("irl_blocked_or_quarantined", "gauge", "Identifiers that do not link.", quarantined["count"])
    if customers:
        _customer_metrics(w, customers)
    return "\n".join(w.lines) + "\n"


def _worker_metrics(w: _Writer, worker: Mapping[str, Any]) -> None:
    """This worker's liveness, role, recovery, offsets and stall (the snapshot's ``worker``)."""
    w.one("irl_up", "gauge", "1 while this worker answers.", 1)
    w.one("irl_writer", "gauge", "1 when this worker owns the single-writer partition.", worker["role"] == "writer")
    w.one("irl_recovered", "gauge", "1 when the resolver state was restored from the tables.", worker["recovered"])
    w.one("irl_uptime_seconds", "gauge", "Seconds since the worker started.", worker["uptime_s"])
    w.one("irl_applied_offset", "gauge", "Last links-topic offset applied by the resolver.", worker["applied_offset"])
    w.one("irl_redis_offset", "gauge", "Links-topic offset the Redis read model reflects.", worker["redis_offset"])
    w.one("irl_redis_rebuilds_total", "counter", "Full rebuilds of the Redis read model.", worker["redis_rebuilds"])
    w.one(
        "irl_redis_child_flushes_total",
        "counter",
        "Flushes of the Redis read model written by a forked child (a backlog's many customers).",
        worker.get("redis_child_flushes", 0),
    )
    w.one(
        "irl_triage_processes",
        "gauge",
        "Triage processes of this worker running (IRL_TRIAGE_PROCESSES; 0: triage runs in the worker's process).",
        worker.get("triage_processes", 0),
    )
    w.one(
        "irl_writer_stalled_seconds",
        "gauge",
        "Seconds the single writer has applied nothing while records waited (it exits at IRL_STALL_SECONDS).",
        worker.get("stalled_s", 0.0),
    )
    w.one(
        "irl_customer_stage_stalled_seconds",
        "gauge",
        "Seconds a partition of the per-customer stage on this worker has applied nothing while effects waited "
        "(IRL_CUSTOMER_STAGE=kafka; it exits at IRL_STALL_SECONDS).",
        worker.get("customers_stalled_s", 0.0),
    )
    w.one(
        "irl_rebalance_seconds",
        "gauge",
        "Seconds the ordered stage's group has been rebalancing (0: none; exits at max(300, 2.5 x IRL_STALL_SECONDS)).",
        worker.get("rebalancing_s", 0.0),
    )


def _event_metrics(w: _Writer, events: Mapping[str, Any]) -> None:
    """Touchpoint events triaged, applied, duplicated and dead-lettered, and the rate (``events``)."""
    w.one("irl_events_triaged_total", "counter", "Touchpoint events that passed triage.", events["triaged"])
    w.one("irl_events_applied_total", "counter", "Events applied by the resolver.", events["applied"])
    w.one("irl_events_duplicate_total", "counter", "Events seen again and ignored.", events["duplicates"])
    w.one(
        "irl_events_reused_id_total",
        "counter",
        "Events ignored because another event used their id within the duplicate horizon (among the duplicates).",
        events.get("reused_ids", 0),
    )
    w.one(
        "irl_events_parsed_again_total",
        "counter",
        "Events the ordered stage parsed itself: their batch had no findings of triage under its parser's fingerprint.",
        events.get("parsed_again", 0),
    )
    w.one("irl_dead_letters_total", "counter", "Records sent to the dead-letter topic.", events["dead_letters"])
    w.one("irl_events_rate", "gauge", "Events applied per second over the last minute.", events["rate_per_s"])


def _window_metrics(w: _Writer, windows: Mapping[str, Any]) -> None:
    """Batch windows published, the last one's end and publish delay, and the open ones (``windows``)."""
    w.one(
        "irl_records_published_total",
        "counter",
        "Changelog records this worker sent to the CRM (the ordered stage's, or its per-customer stage's).",
        windows["records_published"],
    )
    w.one("irl_windows_published_total", "counter", "Batch windows published.", windows["published"])
    last_end = windows.get("last_window_end")
    w.one(
        "irl_last_window_end_seconds",
        "gauge",
        "End of the last published window (epoch seconds).",
        last_end / 1000 if isinstance(last_end, int) else None,
    )
    delay = windows.get("publish_delay_ms")
    w.one(
        "irl_publish_delay_seconds",
        "gauge",
        "How long after its end the last window was published.",
        delay / 1000 if isinstance(delay, int) else None,
    )
    w.one("irl_open_windows", "gauge", "Windows with changes not yet published.", len(windows.get("open", ())))


def _change_metrics(w: _Writer, totals: Mapping[str, int]) -> None:
    """Changelog records published since start, one sample per change type (left out when none)."""
    w.metric(
        "irl_changes_published_total",
        "counter",
        "Changelog records published since start, by change type.",
        [({"change": k}, v) for k, v in sorted(totals.items())],
    )


def _lag_metrics(w: _Writer, lag: Mapping[str, int] | None) -> None:
    """Consumer lag per topic/partition, when the snapshot has any."""
    if lag:
        w.metric(
            "irl_consumer_lag",
            "gauge",
            "Records not yet consumed, per topic/partition.",
            [({"partition": k}, v) for k, v in sorted(lag.items())],
        )


def _action_metrics(w: _Writer, recent: Iterable[Mapping[str, Any]]) -> None:
    """The recent operator actions counted by kind (left out when none)."""
    actions: dict[str, int] = {}
    for action in recent:
        actions[action["action"]] = actions.get(action["action"], 0) + 1
    w.metric(
        "irl_recent_actions",
        "gauge",
        "Operator actions among the last 20 queued by this worker, by kind.",
        [({"action": k}, v) for k, v in sorted(actions.items())],
    )


def _resolver_metrics(w: _Writer, resolver: Mapping[str, Any]) -> None:
    """The identity graph's sizes (``resolver``: only a writer has them)."""
    w.one("irl_customers", "gauge", "Live customers.", resolver["customers"])
    w.one("irl_identifiers", "gauge", "Identifiers in the identity graph.", resolver["identifiers"])
    w.one("irl_events_held", "gauge", "Events held by the resolver.", resolver["events"])
    w.one("irl_merges_total", "counter", "Customers absorbed by merges.", resolver["merges"])
    w.one("irl_quarantined_identifiers", "gauge", "Quarantined (hub) identifiers.", resolver["quarantined"])
    w.one("irl_shared_phones", "gauge", "Phones shared by a household.", resolver["shared_phones"])


def _customer_metrics(w: _Writer, customers: Mapping[str, Any]) -> None:
    """The single-identity ratio and the confidence histogram of the customers scanned (``customers``)."""
    w.one(
        "irl_single_identity_ratio",
        "gauge",
        "Share of customers with one identifier only.",
        customers["single_identity_rate"],
    )
    _histogram(w, customers)


def _histogram(w: _Writer, customers: Mapping[str, Any]) -> None:
    conf = customers["confidence"]
    n = customers["scanned"]
    if not n:
        return
    name = "irl_customer_confidence"
    w.lines.append(f"# HELP {name} Data confidence of customers (scanned or sampled).")
    w.lines.append(f"# TYPE {name} histogram")
    running = 0
    for bucket in conf["buckets"]:
        running += bucket["count"]
        w.lines.append(f'{name}_bucket{{le="{bucket["le"]}"}} {running}')
    w.lines.append(f'{name}_bucket{{le="+Inf"}} {n}')
    w.lines.append(f"{name}_sum {_number(round(conf['mean'] * n, 6))}")
    w.lines.append(f"{name}_count {n}")
