"""The imperative shell: Faust app, agents, codecs, Redis adapter, web views and the `irl` CLI."""
