"""runk.linux.cgroups."""
