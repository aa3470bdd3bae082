"""Quality has a floor: the resolver on generated, labelled data (issues 4 and 18, "Done when").

Counted as `irl evaluate` counts them: pairwise over the events that carry a personal
identifier. 10,000 generated customers (~50k events, about 15 s): at 3,000 the confidence AUC
moved by 0.1 between seeds, a few mixed customers more or less. The data has the real-world
patterns of issue 18 (extensions, masks, swapped names, family mailboxes, shared lines).
Floors sit a little under what seed 1 measures, so a regression fails and noise does not:
precision 0.9962, recall 0.9331, AUC 0.930. Recall cannot reach 0.94 on this data: about 82%
of the pairs it misses are events that share no identifier at all (anonymous web visits,
kiosk visits without a phone) and 15% share only a store's phone, a hub.
"""

from __future__ import annotations

import pytest

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.evaluation import Evaluation, carries_identifier, evaluate
from resolver.interaction import fields_of, from_json
from streams.synthetic import generate

CUSTOMERS = 10_000
SEED = 1


@pytest.fixture(scope="module")
def quality() -> Evaluation:
    events, truth = generate(CUSTOMERS, SEED)
    resolver = Resolver(ResolverConfig(), track_changes=False)
    parsed = [from_json(obj) for obj in events]
    for event in parsed:
        resolver.apply(event)
    truth_map = dict(truth)
    identified = {obj["event_id"] for obj in events if carries_identifier(obj)}
    # Assigned by content, as `irl replay` writes them: the core keeps evidence, not every event id.
    assignments = {
        event.event_id: cid for event in parsed if (cid := resolver.customer_of_fields(fields_of(event))) is not None
    }
    confidence = {}
    for cid in resolver.customer_ids():
        profile = resolver.profile(cid)
        assert profile is not None
        confidence[cid] = profile.confidence
    return evaluate(truth_map, assignments, confidence=confidence, only=identified)


def test_never_fuses_strangers(quality: Evaluation) -> None:
    assert quality.unassigned == 0
    assert quality.pairs.precision >= 0.995


def test_recall_floor(quality: Evaluation) -> None:
    assert quality.pairs.recall >= 0.93


def test_confidence_ranks_mixed_customers_lower(quality: Evaluation) -> None:
    assert quality.confidence_auc is not None
    assert quality.confidence_auc >= 0.9
