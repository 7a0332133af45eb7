"""runk's version and the runtime-spec version it writes into state documents; imports nothing."""

__version__ = "0.1.0"
OCI_VERSION = "1.3.0"
