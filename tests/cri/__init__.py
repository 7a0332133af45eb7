"""The CRI path (see conftest.py). grpc's fork handlers are turned off before grpc is imported:
with them, every process the rest of the test session forks (the cgroup tests' children) would
start grpc threads, counted against their pids limits."""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
