"""Evaluation figures: hand-computed examples, a brute-force O(n^2) oracle, AUC on known cases."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.evaluation import (
    assignments_via_touchpoints,
    auc,
    before_crm,
    carries_identifier,
    evaluate,
    identifiable_events,
    pair_counts,
)

# Events a..e; true customers 1 and 2; resolved X, Y, Z.
#   X = {a, b}    both customer 1          pure
#   Y = {c, d}    customer 1 and 2         mixed
#   Z = {e}       customer 2               pure
TRUTH = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"}
ASSIGNED = {"a": "X", "b": "X", "c": "Y", "d": "Y", "e": "Z"}


def test_hand_computed_example() -> None:
    ev = evaluate(TRUTH, ASSIGNED)
    # true pairs: C(3,2) + C(2,2) = 4; predicted: X 1 + Y 1 = 2; common: only (a, b).
    assert (ev.pairs.true_pairs, ev.pairs.predicted_pairs, ev.pairs.common_pairs) == (4, 2, 1)
    assert ev.precision == 0.5
    assert ev.recall == 0.25
    assert ev.f1 == pytest.approx(1 / 3)
    assert ev.single_identity_rate == 0.0  # 1 is in X and Y, 2 in Y and Z
    assert ev.purity == pytest.approx(2 / 3)
    assert ev.event_purity == pytest.approx(4 / 5)
    assert ev.size_distribution == {2: 2, 1: 1}
    assert [(c.customer_id, c.events, c.true_customers) for c in ev.largest] == [("X", 2, 1), ("Y", 2, 2), ("Z", 1, 1)]
    assert (ev.events, ev.true_customers, ev.resolved_customers, ev.unassigned) == (5, 2, 3, 0)


def test_a_perfect_resolution_scores_one_everywhere() -> None:
    ev = evaluate(TRUTH, {k: "R" + v for k, v in TRUTH.items()})
    assert (ev.precision, ev.recall, ev.f1, ev.single_identity_rate, ev.purity, ev.event_purity) == (1, 1, 1, 1, 1, 1)


def test_everything_in_one_customer_has_full_recall_and_poor_precision() -> None:
    ev = evaluate(TRUTH, dict.fromkeys(TRUTH, "ALL"))
    assert ev.recall == 1.0
    assert ev.precision == pytest.approx(4 / 10)
    assert ev.single_identity_rate == 1.0  # the north star alone is fooled; purity is not
    assert ev.purity == 0.0


def test_unassigned_events_are_singletons_and_counted() -> None:
    ev = evaluate(TRUTH, {"a": "X", "b": "X", "d": "Y", "e": "Y"})
    assert ev.unassigned == 1
    assert ev.resolved_customers == 3
    assert ev.pairs.common_pairs == 2 and ev.pairs.predicted_pairs == 2
    assert [c.customer_id for c in ev.largest][-1] == "(unassigned)"


def test_restricting_to_a_subset_of_events() -> None:
    ev = evaluate(TRUTH, ASSIGNED, only={"a", "b", "e", "unknown"})
    assert ev.events == 3
    assert (ev.precision, ev.recall, ev.single_identity_rate) == (1.0, 1.0, 1.0)


def test_events_outside_truth_are_ignored() -> None:
    assert evaluate(TRUTH, {**ASSIGNED, "zz": "X"}).pairs == pair_counts(TRUTH, ASSIGNED)


def test_no_pairs_at_all_is_perfect_not_a_division_by_zero() -> None:
    ev = evaluate({"a": "1", "b": "2"}, {"a": "X", "b": "Y"})
    assert (ev.precision, ev.recall, ev.f1) == (1.0, 1.0, 1.0)
    empty = evaluate({}, {})
    assert empty.events == 0 and empty.purity == 1.0


def test_confidence_auc_and_low_confidence_count() -> None:
    ev = evaluate(TRUTH, ASSIGNED, confidence={"X": 0.9, "Y": 0.3, "Z": 0.6, "other": 0.0})
    assert ev.confidence_auc == 1.0  # mixed Y scores below both pure customers
    assert (ev.scored_customers, ev.below_threshold) == (3, 1)
    worse = evaluate(TRUTH, ASSIGNED, confidence={"X": 0.9, "Y": 0.7, "Z": 0.6})
    assert worse.confidence_auc == 0.5
    assert evaluate(TRUTH, ASSIGNED).confidence_auc is None
    only_pure = evaluate(TRUTH, {k: "R" + v for k, v in TRUTH.items()}, confidence={"R1": 1.0, "R2": 0.2})
    assert only_pure.confidence_auc is None


@pytest.mark.parametrize(
    ("positive", "negative", "expected"),
    [
        ([0.9, 0.8], [0.1, 0.2], 1.0),
        ([0.1], [0.9, 0.8], 0.0),
        ([0.5, 0.5], [0.5], 0.5),
        ([0.9, 0.4], [0.5], 0.5),
        ([0.9, 0.5, 0.1], [0.5], 0.5),
        ([], [0.5], None),
        ([0.5], [], None),
    ],
)
def test_auc_known_cases(positive: list[float], negative: list[float], expected: float | None) -> None:
    assert auc(positive, negative) == expected


@given(
    st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=1, max_size=20),
    st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=1, max_size=20),
)
def test_auc_equals_the_pairwise_definition(positive: list[float], negative: list[float]) -> None:
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positive for n in negative)
    assert auc(positive, negative) == pytest.approx(wins / (len(positive) * len(negative)))


_labels = st.dictionaries(
    st.text("abcdefghij", min_size=1, max_size=2),
    st.tuples(st.sampled_from("1234"), st.one_of(st.none(), st.sampled_from("WXYZ"))),
    max_size=30,
)


@settings(max_examples=200)
@given(_labels)
def test_figures_equal_a_brute_force_oracle(labels: dict[str, tuple[str, str | None]]) -> None:
    truth = {e: t for e, (t, _) in labels.items()}
    assigned = {e: r for e, (_, r) in labels.items() if r is not None}
    ev = evaluate(truth, assigned)

    def resolved(e: str) -> str:
        return assigned.get(e, "\x00" + e)

    pairs = list(itertools.combinations(truth, 2))
    same_true = [truth[a] == truth[b] for a, b in pairs]
    same_resolved = [resolved(a) == resolved(b) for a, b in pairs]
    assert ev.pairs.true_pairs == sum(same_true)
    assert ev.pairs.predicted_pairs == sum(same_resolved)
    assert ev.pairs.common_pairs == sum(t and r for t, r in zip(same_true, same_resolved, strict=True))
    customers = set(truth.values())
    whole = [c for c in customers if len({resolved(e) for e in truth if truth[e] == c}) == 1]
    assert ev.single_identity_rate == pytest.approx(len(whole) / len(customers) if customers else 1.0)
    clusters = {resolved(e) for e in truth}
    pure = [r for r in clusters if len({truth[e] for e in truth if resolved(e) == r}) == 1]
    assert ev.purity == pytest.approx(len(pure) / len(clusters) if clusters else 1.0)
    assert sum(n * k for k, n in ev.size_distribution.items()) == len(truth)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"touchpoint": "WEB", "phone": "98450 71623"}, True),
        ({"touchpoint": "KIOSK", "email": "a@b.in"}, True),
        ({"touchpoint": "whatsapp"}, True),
        ({"touchpoint": "WEB", "phone": "  ", "email": None}, False),
        ({"touchpoint": "WEB"}, False),
        ({"touchpoint": "KIOSK", "phone": 9845071623}, False),
    ],
)
def test_carries_identifier(event: dict[str, object], expected: bool) -> None:
    assert carries_identifier(event) is expected


def test_identifiable_events_share_a_value_with_another_event() -> None:
    events = [
        # one person's number, typed three ways, and their chat
        {"event_id": "a", "touchpoint": "WEB", "source_id": "anon-1", "phone": "+91 98450 71623"},
        {"event_id": "b", "touchpoint": "KIOSK", "source_id": "KV-1", "phone": "098450-71623 ext. 12"},
        {"event_id": "c", "touchpoint": "WHATSAPP", "source_id": "919845071623"},
        # an email written with dots and a tag on one event, plainly on another
        {"event_id": "d", "touchpoint": "WEB", "source_id": "anon-2", "email": "Asha.Rao+shop@GoogleMail.com"},
        {"event_id": "e", "touchpoint": "KIOSK", "source_id": "KV-2", "email": "asharao@gmail.com"},
        # a typo one digit from a known number: some rule may link it
        {"event_id": "f", "touchpoint": "KIOSK", "source_id": "KV-3", "phone": "98450 71629"},
        # two neighbouring digits swapped
        {"event_id": "f2", "touchpoint": "KIOSK", "source_id": "KV-5", "phone": "91111 22323"},
        {"event_id": "f3", "touchpoint": "KIOSK", "source_id": "KV-6", "phone": "91111 23223"},
        # a one-off visit: its number and its record are on no other event
        {"event_id": "g", "touchpoint": "KIOSK", "source_id": "KV-4", "phone": "97318 62040"},
        # a masked number compares as nothing; its cookie is shared with a page view (no identifier)
        {"event_id": "h", "touchpoint": "WEB", "source_id": "anon-3", "phone": "98******10"},
        {"event_id": "i", "touchpoint": "WEB", "source_id": "anon-3"},
        {"event_id": "j", "touchpoint": "WEB", "source_id": "anon-4", "email": "j***@gmail.com"},
        # a resent event is one event: its values are not shared with itself
        {"event_id": "k", "touchpoint": "WEB", "source_id": "u-5", "email": "once@example.in"},
        {"event_id": "k", "touchpoint": "WEB", "source_id": "u-5", "email": "once@example.in"},
    ]
    assert identifiable_events(events) == {"a", "b", "c", "d", "e", "f", "f2", "f3", "h"}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["WEB", "KIOSK", "WHATSAPP"]), st.integers(0, 5), st.integers(0, 5)), max_size=12
    )
)
def test_identifiable_events_are_identified_and_do_not_depend_on_order(rows: list[tuple[str, int, int]]) -> None:
    events = [
        {"event_id": f"e{i}", "touchpoint": tp, "source_id": f"{'9198450716' if tp == 'WHATSAPP' else 's'}{src}",
         "phone": f"98450 7162{ph}" if ph < 4 else None}
        for i, (tp, src, ph) in enumerate(rows)
    ]  # fmt: skip
    found = identifiable_events(events)
    assert found <= {e["event_id"] for e in events if carries_identifier(e)}
    assert identifiable_events(list(reversed(events))) == found


def test_before_counts_touchpoint_identities_per_real_customer() -> None:
    rows = [
        ("a", "WEB", "anon-1"),
        ("b", "web", "anon-1"),  # same record, other spelling of the touchpoint
        ("c", "KIOSK", "KC-1"),
        ("d", "WHATSAPP", "919845071623"),
        ("e", "WEB", "anon-1"),  # customer 2 on customer 1's cookie
        ("zz", "WEB", "u9"),  # not in truth
    ]
    truth = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"}
    before = before_crm(rows, truth)
    assert (before.true_customers, before.records) == (2, 3)
    assert before.records_per_customer == pytest.approx((2 + 2) / 2)
    assert before.single_record_rate == 0.0
    assert before_crm(rows[:2], truth).single_record_rate == 1.0


def test_assignments_via_touchpoint_records() -> None:
    rows = [("a", "web", "anon-1"), ("b", "KIOSK", "KC-1"), ("c", "WEB", "missing")]
    out = assignments_via_touchpoints(rows, {("WEB", "anon-1"): "c1", ("KIOSK", "KC-1"): "c2"})
    assert out == {"a": "c1", "b": "c2"}


def test_to_dict_is_json_ready() -> None:
    record = evaluate(TRUTH, ASSIGNED, confidence={"X": 1.0}).to_dict()
    again = json.loads(json.dumps(record))
    assert again["precision"] == 0.5 and again["size_distribution"] == {"1": 1, "2": 2}
    assert again["largest"][0] == {"customer_id": "X", "events": 2, "true_customers": 1}


def test_evaluate_command_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from streams.commands.evaluate import command

    (tmp_path / "t.csv").write_text("event_id,true_customer\n" + "".join(f"{k},{v}\n" for k, v in TRUTH.items()))
    (tmp_path / "a.csv").write_text("event_id,customer_id\n" + "".join(f"{k},{v}\n" for k, v in ASSIGNED.items()))
    profiles = [{"customer_id": "X", "confidence": 0.9}, {"customer_id": "Y", "confidence": 0.3}]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p) + "\n" for p in profiles))
    events = [
        {"event_id": "a", "touchpoint": "WEB", "source_id": "u1", "phone": "9845071623"},
        {"event_id": "b", "touchpoint": "WEB", "source_id": "u1"},
        {"event_id": "c", "touchpoint": "KIOSK", "source_id": "k1", "email": "x@y.in"},
        {"event_id": "d", "touchpoint": "WHATSAPP", "source_id": "919845071623"},
        {"event_id": "e", "touchpoint": "WEB", "source_id": "u2"},
    ]
    (tmp_path / "e.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events) + "not json\n")
    args = ["--truth", str(tmp_path / "t.csv"), "--assignments", str(tmp_path / "a.csv")]
    args += ["--profiles", str(tmp_path / "p.jsonl"), "--events", str(tmp_path / "e.jsonl")]
    result = CliRunner().invoke(command, [*args, "--json", str(tmp_path / "out.json")])
    assert result.exit_code == 0, result.output
    assert "pairwise precision" in result.stdout and "50.00%" in result.stdout
    assert "identified events" in result.stdout
    assert "1 unreadable" in result.stderr
    figures = json.loads((tmp_path / "out.json").read_text())
    assert figures["all"]["recall"] == 0.25
    assert figures["identified"]["events"] == 3  # a, c, d
    assert "identifiable events" in result.stdout
    assert figures["identifiable"]["events"] == 2  # a and d share a phone; c's email is on no other event
    assert figures["all"]["confidence_auc"] == 1.0
    # The same events with a byte-order mark (as `irl replay` reads them): the same figures.
    (tmp_path / "e.jsonl").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "e.jsonl").read_bytes())
    marked = CliRunner().invoke(command, [*args, "--json", str(tmp_path / "marked.json")])
    assert marked.exit_code == 0 and "1 unreadable" in marked.stderr, marked.output
    assert json.loads((tmp_path / "marked.json").read_text()) == figures
    assert figures["before"]["records_per_customer"] == 2.0  # 1: WEB u1, KIOSK k1; 2: WHATSAPP, WEB u2


def test_evaluate_counts_only_the_events_given_when_the_truth_names_more(tmp_path: Path) -> None:
    """Audit s34 B4: the truth of a whole data set beside part of its events counted every other truth row
    as an unassigned event ("events 77399" for 14,546 replayed, recall 6%)."""
    from click.testing import CliRunner

    from streams.commands.evaluate import command

    wider = {**TRUTH, **{f"z{i}": f"9{i}" for i in range(20)}}
    (tmp_path / "t.csv").write_text("event_id,true_customer\n" + "".join(f"{k},{v}\n" for k, v in wider.items()))
    (tmp_path / "a.csv").write_text("event_id,customer_id\n" + "".join(f"{k},{v}\n" for k, v in ASSIGNED.items()))
    events = [{"event_id": k, "touchpoint": "WEB", "source_id": f"u-{k}", "phone": "9845071623"} for k in TRUTH]
    (tmp_path / "e.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    args = ["--truth", str(tmp_path / "t.csv"), "--assignments", str(tmp_path / "a.csv")]
    result = CliRunner().invoke(command, [*args, "--events", str(tmp_path / "e.jsonl"), "--json", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "o").read_text())["all"]
    assert figures == json.loads(json.dumps(evaluate(TRUTH, ASSIGNED).to_dict()))
    assert figures["unassigned"] == 0
    assert "20 truth rows name events that are not in --events: left out" in result.output
