"""runk.backend."""
