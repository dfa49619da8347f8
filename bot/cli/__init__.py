"""The `sourcier` command line: typer commands (cli.py) and their plain or rich rendering (render.py)."""

from bot.cli.cli import app, main

__all__ = ["app", "main"]
