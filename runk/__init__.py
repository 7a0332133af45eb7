"""runk: an OCI container runtime. This module holds the version only and imports nothing."""
__version__ = "0.1.0"
OCI_VERSION = "1.2.0"
