"""The UnionPay online-gateway connector (全渠道 ACP 5.1.0, signMethod 01, certificates).

One folder, like the Alipay connector: ``connector.py`` holds the flows, ``transformers.py``
the request fields and the mapping of answers, ``wire.py`` the formats, ``signing.py`` the
signatures and the certificate chain, ``notifications.py`` and ``statement.py`` the
notification form and the statement ZIP, ``config.py`` the merchant's settings and
``credentials.py`` the stored credentials. See docs/channels-unionpay.md.

    connector = UnionPayConnector(UnionPayConfig(mer_id, sign_cert_id, key_pem, root, middle))
"""

from paydesk.channels.unionpay.config import (
    UNIONPAY_FILE_TRANSFER_URL,
    UNIONPAY_GATEWAY_URL,
    UnionPayConfig,
)
from paydesk.channels.unionpay.connector import UnionPayConnector
from paydesk.channels.unionpay.credentials import UnionPayCredentials
from paydesk.channels.unionpay.transformers import UnionPayRejected

__all__ = [
    "UNIONPAY_FILE_TRANSFER_URL",
    "UNIONPAY_GATEWAY_URL",
    "UnionPayConfig",
    "UnionPayConnector",
    "UnionPayCredentials",
    "UnionPayRejected",
]
