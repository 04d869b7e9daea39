from django.conf import settings


def home_urls(request) -> dict:
    """The surfaces' home pages, from settings: the shared page layouts link to them without naming a route."""
    return {
        "portal_home_url": settings.PORTAL_HOME_URL,
        "office_home_url": settings.OFFICE_HOME_URL,
        "help_contact": settings.SERVICE_HELP_CONTACT,
        "service_operator": settings.SERVICE_OPERATOR_NAME,
    }
