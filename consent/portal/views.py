"""The person's portal: their requests, consents, uses of consent, revoke, export, delete."""

from django.shortcuts import render

from identity.decorators import identity_required


@identity_required
def home(request):
    return render(request, "portal/home.html", {"person": request.person})
