"""Merchant webhooks: signed notifications of events, retried, logged and replayable.

:mod:`.events` (the event types and :func:`.events.emit`, which other modules call in their
own transaction), :mod:`.signing` (pure: the body, the signature, ``verify`` for receivers),
:mod:`.retries` (pure: the retry schedule), :mod:`.models`, :mod:`.repository`,
:mod:`.service` (endpoints, the notify secret, the event log, replays), :mod:`.delivery` (the
``webhooks.deliver`` job), :mod:`.schemas` and :mod:`.endpoints` (``/v1/webhook-...``).
See docs/webhooks.md.
"""
