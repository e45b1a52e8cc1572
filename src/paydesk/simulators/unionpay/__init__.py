"""A local UnionPay online gateway (全渠道, ACP 5.1.0) that speaks the real protocol.

Signed consume forms posted by the payer's browser to ``frontTransReq.do`` and a pay page
(Pay / Cancel), signed ``queryTrans``, ``backTransReq`` (refunds) and ``fileTransfer``
(statements) answers carrying ``signPubKeyCert``, signed notifications to ``backUrl`` retried
until answered HTTP 200, a control API and fault injection. State is in memory, per process.
See docs/simulators-unionpay.md.

    creds = generate_test_credentials()
    app = create_simulator(creds.simulator_config())
"""

from paydesk.simulators.unionpay.app import create_simulator, simulator_of
from paydesk.simulators.unionpay.config import (
    MerchantRegistration,
    SandboxCredentials,
    SimulatorConfig,
    generate_test_credentials,
)
from paydesk.simulators.unionpay.faults import FaultPlan
from paydesk.simulators.unionpay.simulator import UnionPaySimulator
from paydesk.simulators.unionpay.trades import TradeStatus

__all__ = [
    "FaultPlan",
    "MerchantRegistration",
    "SandboxCredentials",
    "SimulatorConfig",
    "TradeStatus",
    "UnionPaySimulator",
    "create_simulator",
    "generate_test_credentials",
    "simulator_of",
]
