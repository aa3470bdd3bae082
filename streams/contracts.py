"""Registering the contracts of `schemas/avro/` in the schema registry, before anything is produced.

Each topic carrying a contract gets subject `<topic>-value` (Confluent's TopicNameStrategy),
compatibility FULL_TRANSITIVE (the contracts' own rule, checked by the registry from then on),
and every version of its contract, oldest first. Registering again changes nothing: the
registry answers the ids it already has. A version the registry refuses (incompatible with
what is under the subject) raises RegistryRefused naming the subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streams.registry import COMPATIBILITY, RegistryClient, RegistryRefused, subject_of
from streams.schemas import SchemaRepository, default_repository

__all__ = ["Registration", "register_contracts"]


@dataclass(frozen=True, slots=True)
class Registration:
    """What one subject holds after registration: its contract and the id of each version, oldest first."""

    topic: str
    subject: str
    contract: str
    ids: tuple[int, ...]
    compatibility: str


def register_contracts(
    client: RegistryClient, topics: Mapping[str, str], repository: SchemaRepository | None = None
) -> list[Registration]:
    """Register `{topic: contract name}` in `client`; return one Registration per topic, in order.

    Raises RegistryUnavailable (retry) or RegistryRefused (an incompatible version, bad credentials).
    """
    repo = repository if repository is not None else default_repository()
    out: list[Registration] = []
    for topic, contract in topics.items():
        subject = subject_of(topic)
        client.set_compatibility(subject, COMPATIBILITY)
        ids: list[int] = []
        for version in repo.versions(contract):
            try:
                ids.append(client.register(subject, version.text))
            except RegistryRefused as exc:
                raise RegistryRefused(f"{subject}: {version.label} refused: {exc}", exc.status, exc.error_code) from exc
        level = client.compatibility(subject) or ""
        out.append(Registration(topic, subject, contract, tuple(ids), level))
    return out
