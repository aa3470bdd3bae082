"""Unit tests need no services: their codecs read and write through a registry in this process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.codec import Codecs, use
from streams.registry import InMemoryRegistryClient


@pytest.fixture(autouse=True, scope="module")
def in_memory_codecs() -> Iterator[Codecs]:
    """The process's codecs over an in-memory registry that registers what a test encodes (per module)."""
    mine = Codecs.build(InMemoryRegistryClient(auto_register=True))
    previous = use(mine)
    yield mine
    use(previous)
