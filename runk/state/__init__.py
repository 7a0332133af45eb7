"""runk.state: what every backend shares, below them (ARCHITECTURE.md): the state store (one
locked directory per container under --root), the state record, statuses and the transitions
they allow, the cleanup stack, and running the container's hooks.

Runs in the parent. Imports runk.linux (hook execution) and the base modules only.
"""
