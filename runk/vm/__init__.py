"""runk.vm."""
