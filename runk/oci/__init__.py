"""runk.oci."""
