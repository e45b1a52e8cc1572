"""A WeChat Pay API v3 simulator that the unmodified ``wechatpayv3`` SDK accepts.

It verifies request signatures, signs every answer, delivers encrypted and signed
notifications with WeChat's retries, serves trade bills, offers a pay page for payers and a
control API for tests, and misbehaves on demand (:mod:`.faults`). State is in memory, per
process. See docs/simulators-wechatpay.md.

Module map: :mod:`.config` (keys, merchants, test credentials), :mod:`.signing` (signatures,
encryption), :mod:`.wire` (request and answer bodies), :mod:`.state` (orders and refunds),
:mod:`.service` (transitions and what follows them), :mod:`.notifications`,
:mod:`.bill`, :mod:`.faults`, :mod:`.edge` (authentication, signed
answers), :mod:`.routes_api` (``/v3``), :mod:`.routes_control` and :mod:`.pages` (payer and
test routes), :mod:`.app`.
"""

from paydesk.simulators.wechatpay.app import create_simulator
from paydesk.simulators.wechatpay.config import (
    MerchantConfig,
    SimulatorConfig,
    TestCredentials,
    generate_test_credentials,
)
from paydesk.simulators.wechatpay.faults import FaultBook, FaultSettings
from paydesk.simulators.wechatpay.service import Simulator

__all__ = [
    "FaultBook",
    "FaultSettings",
    "MerchantConfig",
    "Simulator",
    "SimulatorConfig",
    "TestCredentials",
    "create_simulator",
    "generate_test_credentials",
]
