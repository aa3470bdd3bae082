"""The `irl` command line: one group, each command in its own module under `streams/commands/`.

Commands are imported lazily so that `irl --help` stays fast and one broken command
cannot take the others down.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

__all__ = ["main"]

#: command name -> module under streams.commands that defines `command` (a click.Command).
_COMMANDS: dict[str, str] = {
    "version": "version",
    "topics": "topics",
    "produce": "produce",
    "import": "import_csv",
    "deadletters": "deadletters",
    "replay": "replay",
    "generate": "generate",
    "evaluate": "evaluate",
    "worker": "worker",
    "rebuild-redis": "rebuild_redis",
    "crm-sync": "crm_sync",
    "erasure-status": "erasure_status",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, mod in _COMMANDS.items() if _module_exists(mod))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None or not _module_exists(module):
            return None
        cmd: click.Command = importlib.import_module(f"streams.commands.{module}").command
        return cmd


def _module_exists(module: str) -> bool:
    return importlib.util.find_spec(f"streams.commands.{module}") is not None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """IRL: the Identity Resolution Layer. Resolves customer identities from touchpoint events."""


def run(argv: list[str] | None = None) -> Any:
    """Entry point for tests: run the CLI in-process and return click's result."""
    return main.main(args=argv if argv is not None else sys.argv[1:], standalone_mode=False)


if __name__ == "__main__":
    main()
