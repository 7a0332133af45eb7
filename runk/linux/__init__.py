"""Kernel mechanisms of a container, used on the host and by the VM guest agent.

Nothing here knows about the CLI or the state store (DESIGN 3.1).
"""
