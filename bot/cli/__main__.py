"""`python -m bot.cli`: the same as the `sourcier` command."""

from bot.cli.cli import main

main()
