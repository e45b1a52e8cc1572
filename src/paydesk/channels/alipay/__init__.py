"""The Alipay open-platform connector (python-alipay-sdk, RSA2, public-key mode).

One folder, hyperswitch-style (STYLE.md): ``connector.py`` holds the flows, ``transformers.py``
the wire fields and their mapping onto base.py's types (with ``notifications.py`` for the
notification form and ``statement.py`` for the bill ZIP), ``config.py`` the app's settings.
See docs/channels-alipay.md.

    connector = AlipayConnector(AlipayConfig(app_id, app_private_key_pem, alipay_public_key_pem))
"""

from paydesk.channels.alipay.config import ALIPAY_GATEWAY_URL, AlipayConfig
from paydesk.channels.alipay.connector import AlipayConnector
from paydesk.channels.alipay.transformers import AlipayRejected

__all__ = ["ALIPAY_GATEWAY_URL", "AlipayConfig", "AlipayConnector", "AlipayRejected"]
