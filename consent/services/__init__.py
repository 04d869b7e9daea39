"""Every state change of the consent app goes through these functions (split by feature)."""

from consent.services.account import *  # noqa: F403
from consent.services.artifacts import *  # noqa: F403
from consent.services.consent_notices import *  # noqa: F403
from consent.services.decisions import *  # noqa: F403
from consent.services.exports import *  # noqa: F403
from consent.services.idempotency import *  # noqa: F403
from consent.services.keys import *  # noqa: F403
from consent.services.notify import *  # noqa: F403
from consent.services.organization_settings import *  # noqa: F403
from consent.services.outputs import *  # noqa: F403
from consent.services.presentations import *  # noqa: F403
from consent.services.requests import *  # noqa: F403
from consent.services.retention import *  # noqa: F403
from consent.services.statements import *  # noqa: F403
from consent.services.webhooks import *  # noqa: F403
