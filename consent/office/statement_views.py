"""Recorded statements in the office: the recording beside the samples and the check's scores, and the
operator's decision (approve or refuse, with a reason) when the check could not confirm the person."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consent import likeness, previews, selectors, services
from consent.errors import ConsentError
from consent.models import Statement
from consent.office.access import office_view, render_office
from consent.office.forms import StatementReviewForm
from consent.services.statements import statement_text
from errors.surfaces import form_error_add


def _page(request, membership, pk, *, form=None, status=200):
    statement = selectors.statement_get_for_organization(organization=membership.organization, statement_id=pk)
    context = {
        "statement": statement,
        "consent_request": statement.request,
        "text": statement_text(statement),
        "samples": selectors.samples_of_request(statement.request),
        "form": form or StatementReviewForm(),
        "unavailable": likeness.unavailable_reason(),
    }
    return render_office(request, "office/statement.html", membership, context, status=status)


@office_view()
def statement_detail(request, membership, pk):
    return _page(request, membership, pk)


@require_POST
@office_view(write=True)
def statement_review(request, membership, pk):
    form = StatementReviewForm(request.POST)
    if form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.statement_review(
                actor=request.user,
                organization=membership.organization,
                statement_id=pk,
                approve=approve,
                reason=form.cleaned_data["reason"],
            )
        except Statement.DoesNotExist as exc:
            raise Http404 from exc
        except ConsentError as exc:
            form_error_add(form, exc, field="decision")
        else:
            messages.success(
                request,
                _("Statement approved: the person may now decide the items.")
                if approve
                else _("Statement refused: the person is told, and no item of this request can be granted."),
            )
            return redirect("consent_office:statement", pk=pk)
    return _page(request, membership, pk, form=form, status=400)


def statement_recording(request, pk):
    """The recording for an operator of the requesting organisation (any role); a 404 for anyone else."""
    if not request.user.is_authenticated or not request.user.is_verified():
        raise Http404
    statement = selectors.statement_get_for_operator(user=request.user, statement_id=pk)
    if not statement.file:
        raise Http404
    return previews.statement_response(statement, request.headers.get("Range", ""))
