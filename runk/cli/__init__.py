"""runk.cli."""
