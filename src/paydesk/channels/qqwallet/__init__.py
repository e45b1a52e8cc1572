"""QQ Wallet (QQ钱包, "QPay") merchant API: the connector of one merchant account.

:mod:`.config` (the account), :mod:`.credentials` (what an operator enters),
:mod:`.signing` (``sign``, the app SDK's ``sig``), :mod:`.wire` (safe XML, fields, answers),
:mod:`.transformers` (the mapping onto ``paydesk.channels.base`` types, pure),
:mod:`.connector` (the flows over httpx). See docs/channels-qqwallet.md.
"""

from paydesk.channels.qqwallet.config import (
    QQWALLET_GATEWAY_URL,
    QQWALLET_REFUND_GATEWAY_URL,
    QQWalletConfig,
    SignType,
)
from paydesk.channels.qqwallet.connector import QQWalletConnector
from paydesk.channels.qqwallet.credentials import QQWalletCredentials
from paydesk.channels.qqwallet.wire import QQWalletRejected

__all__ = [
    "QQWALLET_GATEWAY_URL",
    "QQWALLET_REFUND_GATEWAY_URL",
    "QQWalletConfig",
    "QQWalletConnector",
    "QQWalletCredentials",
    "QQWalletRejected",
    "SignType",
]
