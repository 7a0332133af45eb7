"""runk.vm.wire: the bytes between host and guest, used on both sides.

wire.py frames a byte stream (type, channel, length); protocol.py defines the messages carried in
those frames (verbs, replies, EXIT). Imports nothing of runk.vm outside this package (only
runk._json and runk._os), so that the guest's relay and agent can load it cheaply. This file
stays empty of imports: the guest's relay pays for every module it loads.
"""
