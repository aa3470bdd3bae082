"""The `irl` command group: help lists the commands, version prints versions."""

from __future__ import annotations

from click.testing import CliRunner

from streams.cli import main


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    assert "version" in result.output and "topics" in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["version"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("irl ")
    assert "faust-streaming" in result.output and "phonenumbers" in result.output


def test_unknown_command_fails() -> None:
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code != 0
