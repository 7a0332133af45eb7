"""runk.container."""
