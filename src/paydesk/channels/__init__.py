"""Payment channels: one connector per channel behind one protocol (``base.Connector``).

Nothing outside a connector's package knows a channel's field names: a connector turns our
types into the channel's wire format and back. ``channels`` never imports ``payments``.
"""
