"""The `sourcier` command line: typer commands (cli.py, evaluation.py, serving.py), options from the settings
(options.py) and their plain or rich rendering (render.py)."""

from bot.cli import db, distributed, evaluation, keys, serving  # noqa: F401  (they register their commands on `app`)
from bot.cli.cli import app, main

__all__ = ["app", "main"]
