"""runk.cli.commands."""
