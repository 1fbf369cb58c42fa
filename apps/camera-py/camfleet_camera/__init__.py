"""A reference camfleet camera, written from docs/device-protocol.md alone."""

PROTOCOL_VERSION = 1
