"""Imports every module's tables so Alembic sees the whole schema."""

from paydesk.channels.accounts import models as _channel_accounts  # noqa: F401
from paydesk.channels.router import models as _routing  # noqa: F401
from paydesk.db.base import Base
from paydesk.features import models as _features  # noqa: F401
from paydesk.fees import records as _fees  # noqa: F401
from paydesk.fx import models as _fx  # noqa: F401
from paydesk.idempotency import models as _idempotency  # noqa: F401
from paydesk.jobs import models as _jobs  # noqa: F401
from paydesk.ledger import models as _ledger  # noqa: F401
from paydesk.merchants import models as _merchants  # noqa: F401
from paydesk.midas import models as _midas  # noqa: F401
from paydesk.payments import models as _payments  # noqa: F401
from paydesk.wallet import models as _wallet  # noqa: F401
from paydesk.webhooks import models as _webhooks  # noqa: F401

metadata = Base.metadata
