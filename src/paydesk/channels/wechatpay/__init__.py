"""WeChat Pay API v3: the connector of one merchant account.

:mod:`.config` (the account), :mod:`.transformers` (wire formats and the mapping onto
``paydesk.channels.base`` types, pure), :mod:`.connector` (the flows, over the unmodified
``wechatpayv3`` SDK). See docs/channels-wechatpay.md.
"""

from paydesk.channels.wechatpay.config import WECHATPAY_GATEWAY_URL, WeChatPayConfig
from paydesk.channels.wechatpay.connector import WeChatPayConnector

__all__ = ["WECHATPAY_GATEWAY_URL", "WeChatPayConfig", "WeChatPayConnector"]
