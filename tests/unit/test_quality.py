"""Quality has a floor: the resolver on generated, labelled data (issues 4 and 18, "Done when").

Counted as `irl evaluate` counts them, pairwise, over two sets of events (10,000 generated
customers, ~50k events, about 15 s: at 3,000 the confidence AUC moved by 0.1 between seeds):

* *identified* events carry a personal identifier (a phone, an email, a WhatsApp chat);
* *identifiable* events are the identified events that share an identifier value with another
  event (`resolver.evaluation.identifiable_events`, compared more loosely than any resolver, a
  phone one digit away counting as shared). An event whose every value is on no other event
  (a one-off visit giving a number no one else ever gives) cannot be linked by any method; the
  issue's goal, recall 0.94, is on identifiable events.

The data has the real-world patterns of issue 18 (extensions, masks, swapped names, family
mailboxes, shared lines). Floors sit a little under what seed 1 measures, so a regression fails
and noise does not. Seed 1 (seeds 2 and 3): identified P 0.9981 (0.9974, 0.9980), R 0.9332
(0.9349, 0.9386), AUC 0.850 (0.801, 0.803), customers mixing people 0.27%; identifiable P
0.9981, R 0.9441 (0.9439, 0.9485).

Since two people who each gave a phone once under a full name are two people (not one, as
when a name group needed two sightings), the customers mixing people halved (0.58% to
0.27%) and the false pairs fell from 349 to 178 (seed 1), for 0.0003 of recall. The AUC fell
from 0.930 to 0.850 with them: the mixes it ranked lowest most easily (two full names on one
phone) are no longer made; the ones left are rarer and quieter (an account or one event
joining two people). Pure customers' confidence is unchanged (mean 0.754).
What recall misses on identified events (`python -m bench.quality`, seed 1): 77% of the pairs
share no identifier value at all (two phones of one person, a web visit with an email only
beside kiosk visits with a phone, placeholders typed at a kiosk), 15% share only a store's
own phone (a hub, given for customers who refuse theirs), 4% are a typo one digit away where
a side has no name or only a first name (the near-phone rule needs a surname), 2% are events
without a name on a phone split between two people (each could be either), 1% share only a
placeholder (``9999999999``) and 0.4% are links the limits refuse (a fourth phone).
"""

from __future__ import annotations

import pytest

from resolver.config import ResolverConfig
from resolver.engine import Resolver
from resolver.evaluation import Evaluation, carries_identifier, confidences, evaluate, identifiable_events
from resolver.interaction import fields_of, from_json
from streams.synthetic import generate

CUSTOMERS = 10_000
SEED = 1


@pytest.fixture(scope="module")
def quality(both: tuple[Evaluation, Evaluation]) -> Evaluation:
    """Over identified events (carrying a personal identifier)."""
    return both[0]


@pytest.fixture(scope="module")
def identifiable(both: tuple[Evaluation, Evaluation]) -> Evaluation:
    """Over identifiable events (identified, and sharing an identifier value with another event)."""
    return both[1]


@pytest.fixture(scope="module")
def both() -> tuple[Evaluation, Evaluation]:
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
    confidence = confidences(resolver)
    return (
        evaluate(truth_map, assignments, confidence=confidence, only=identified),
        evaluate(truth_map, assignments, confidence=confidence, only=identifiable_events(events)),
    )


def test_never_fuses_strangers(quality: Evaluation) -> None:
    assert quality.unassigned == 0
    assert quality.pairs.precision >= 0.997
    assert quality.purity >= 0.997  # at most 0.3% of customers mix two people


def test_recall_floor(quality: Evaluation) -> None:
    assert quality.pairs.recall >= 0.933


def test_recall_on_identifiable_events_meets_the_goal(identifiable: Evaluation) -> None:
    assert identifiable.unassigned == 0
    assert identifiable.pairs.precision >= 0.997
    assert identifiable.pairs.recall >= 0.943


def test_confidence_ranks_mixed_customers_lower(quality: Evaluation) -> None:
    assert quality.confidence_auc is not None
    assert quality.confidence_auc >= 0.84
