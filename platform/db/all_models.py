"""Imports every ORM module so ``Base.metadata`` holds all tables (Alembic env, schema tests)."""

from wayhouse.platform.alarms import models as alarm_models  # noqa: F401 - with stocktake's
from wayhouse.platform.dispatch import models as dispatch_models  # noqa: F401
from wayhouse.platform.dms import (  # noqa: F401 - imported for their table registrations
    models,
    models_contracts,
    models_customers,
    models_documents,
    models_fulfilment,
    models_orders,
    models_service,
)
from wayhouse.platform.tracking import models as tracking_models  # noqa: F401
