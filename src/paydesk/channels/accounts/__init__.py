"""Channel accounts: a merchant's credentials at one channel, encrypted at rest.

:mod:`.registry` (per channel: the credential schema, which fields are secret or shown, and
how to build the connector), :mod:`.models` (the table), :mod:`.repository` (its SQL),
:mod:`.service` (use cases, and :func:`.service.load_connector` for the payment flows),
:mod:`.schemas` and :mod:`.endpoints` (``/v1/channel-accounts``). See docs/channels.md.
"""
