from django.conf import settings
from django.http import Http404
from django.shortcuts import render

from identity.models import OutboxMessage


def outbox(request):
    """Development only: what the SMS gateway and mail server would have delivered."""
    if not settings.DEBUG:
        raise Http404
    return render(request, "dev/outbox.html", {"messages_sent": OutboxMessage.objects.all()[:200]})
