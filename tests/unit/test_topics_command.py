"""`irl topics create` asks a schema registry that does not answer yet again, and gives up loudly."""

from __future__ import annotations

from typing import Any

import click
import pytest

import streams.commands.topics as topics_command
from streams.registry import RegistryRefused, RegistryUnavailable
from streams.settings import Settings


def _answers(monkeypatch: pytest.MonkeyPatch, answers: list[Any]) -> list[int]:
    calls: list[int] = []

    async def register(settings: Settings) -> list[str]:
        calls.append(1)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    monkeypatch.setattr(topics_command, "register_project_contracts", register)
    monkeypatch.setattr("streams.commands.topics.time.sleep", lambda _s: None)
    return calls


def test_a_registry_that_answers_late_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _answers(monkeypatch, [RegistryUnavailable("timed out"), RegistryUnavailable("timed out"), ["ok"]])
    assert topics_command._register(Settings()) == ["ok"]
    assert len(calls) == 3


def test_a_registry_that_never_answers_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topics_command, "REGISTER_WAIT_S", 0.0)
    _answers(monkeypatch, [RegistryUnavailable("timed out")])
    with pytest.raises(click.ClickException, match=r"cannot register the contracts in .*timed out"):
        topics_command._register(Settings())


def test_a_refusal_is_not_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _answers(monkeypatch, [RegistryRefused("incompatible", 409, 409), ["never"]])
    with pytest.raises(click.ClickException, match="incompatible"):
        topics_command._register(Settings())
    assert len(calls) == 1
