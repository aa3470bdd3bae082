"""`irl version`: the versions of IRL and of the parts it runs on, and which core runs (compiled or pure)."""

from __future__ import annotations

import importlib.metadata
import platform

import click

from resolver import CORE_BUILD

__all__ = ["command"]


@click.command("version")
def command() -> None:
    """Print the versions of IRL and its main dependencies."""
    click.echo(f"irl {importlib.metadata.version('irl')}")
    for dist in ("faust-streaming", "aiokafka", "fastavro", "avro", "redis", "phonenumbers"):
        try:
            click.echo(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            click.echo(f"{dist} (not installed)")
    click.echo(f"python {platform.python_version()}")
    click.echo(f"core: {CORE_BUILD}")
