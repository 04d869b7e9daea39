"""Every write of the identity app goes through these functions (split by feature)."""

from identity.services.members import *  # noqa: F403
from identity.services.operators import *  # noqa: F403
from identity.services.people import *  # noqa: F403
from identity.services.pii import *  # noqa: F403
