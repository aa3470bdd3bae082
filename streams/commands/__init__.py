"""One module per `irl` command; each defines `command`, a click.Command."""
