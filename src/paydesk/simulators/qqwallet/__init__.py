"""A QQ Wallet (QQ钱包) merchant API simulator that speaks the protocol the connector speaks.

It verifies request signs (MD5 and HMAC-SHA256), answers signed XML with QQ Wallet's error
codes, offers a pay page behind ``code_url``, delivers signed notifications with retries until
they are acknowledged, accepts and completes refunds, serves statements, and misbehaves on
demand (:mod:`.faults`). State is in memory, per process. See docs/simulators-qqwallet.md.

Module map: :mod:`.config` (merchants, test credentials), :mod:`.wire` (signs, safe XML,
field checks), :mod:`.errors`, :mod:`.state` (orders and refunds), :mod:`.views` (what answers
say), :mod:`.service` (transitions and what follows them), :mod:`.notifications`,
:mod:`.bill`, :mod:`.faults`, :mod:`.edge` (authentication, signed
answers), :mod:`.routes_api` (``/cgi-bin``), :mod:`.routes_control` and :mod:`.pages` (payer
and test routes), :mod:`.app`.
"""

from paydesk.simulators.qqwallet.app import create_simulator
from paydesk.simulators.qqwallet.config import (
    MerchantConfig,
    SimulatorConfig,
    TestCredentials,
    generate_test_credentials,
)
from paydesk.simulators.qqwallet.faults import FaultBook, FaultSettings
from paydesk.simulators.qqwallet.service import Simulator

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
