"""A per-customer snapshot says its format; a worker refuses one it does not read, by name, never misreading it.

Before s36 the manifest (``p<n>`` in ``<app id>-customers-state``) held no format: a worker that
met a layout it did not know would have loaded it as its own (or failed on an unrelated error).
"""

from __future__ import annotations

import json

import pytest

from resolver.effect_feed import PartitionFeed
from streams.customer_state import SNAPSHOT_FORMAT, SnapshotFormatError, snapshot_records, stored_snapshot


def _folded(data: bytes, **manifest: object) -> dict[bytes, bytes]:
    _, records = snapshot_records(3, 812, data, None)
    folded = {k: v for k, v in records if v is not None}
    body = json.loads(folded[b"p3"])
    body.update(manifest)
    folded[b"p3"] = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
    return folded


def test_the_manifest_says_its_format_and_an_older_manifest_without_one_reads_as_format_1() -> None:
    data = PartitionFeed().snapshot()
    _, records = snapshot_records(3, 812, data, None)
    assert json.loads(dict(records)[b"p3"] or b"")["format"] == SNAPSHOT_FORMAT == 1
    for folded in (_folded(data), _folded(data, format=None)):  # as written now, and as before s36
        stored = stored_snapshot(folded, 3)
        assert stored is not None and stored[1] == data and stored[0].offset == 812
        PartitionFeed.from_snapshot(stored[1])


@pytest.mark.parametrize("fmt", [2, 99, "2", 0, True])
def test_a_format_this_worker_does_not_read_is_refused_by_name(fmt: object) -> None:
    folded = _folded(PartitionFeed().snapshot(), format=fmt)
    with pytest.raises(SnapshotFormatError, match=r"effects partition 3: .* format .*reads formats 1 to 1"):
        stored_snapshot(folded, 3)
