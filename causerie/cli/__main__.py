"""``python -m causerie.cli``: the same as the ``causerie`` command."""

from causerie.cli.main import app

app(prog_name="causerie")
