"""A local Alipay open-platform gateway that the unmodified ``python-alipay-sdk`` accepts.

It follows docs/CHANNELS.md ("Alipay open platform"): signed GET or form requests at
``/gateway.do``, signed ``<method>_response`` answers (failures too), pay pages for QR codes
and page/wap pay URLs, signed ``trade_status_sync`` notifications retried until answered
``success``, GBK CSV bills in a ZIP, and failure injection. State is in memory, per process.
See docs/simulators-alipay.md.

    app = create_simulator(generate_test_credentials().simulator_config())
"""

from paydesk.simulators.alipay.app import create_simulator, simulator_of
from paydesk.simulators.alipay.config import (
    AppRegistration,
    SandboxCredentials,
    SimulatorConfig,
    generate_test_credentials,
)
from paydesk.simulators.alipay.faults import FaultPlan
from paydesk.simulators.alipay.simulator import AlipaySimulator
from paydesk.simulators.alipay.trades import TradeStatus

__all__ = [
    "AlipaySimulator",
    "AppRegistration",
    "FaultPlan",
    "SandboxCredentials",
    "SimulatorConfig",
    "TradeStatus",
    "create_simulator",
    "generate_test_credentials",
    "simulator_of",
]
