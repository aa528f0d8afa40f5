"""The signed-in user's own settings: time zone, contact methods, calendar feeds.

An HTMX request (not boosted) gets only the fragment it swaps, the partial named
like the DOM id it replaces; refusals are 4xx with the reason in that fragment.
Every form also works as a plain POST that redirects back to the page.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from mindweave_ir.htmx import is_fragment

from .. import services, slack
from ..forms.people import ContactMethodForm, ProfileForm
from ..models import ApiToken, ContactMethod, Schedule, SlackIdentity

PROFILE = "oncall/people/profile.html"



def _methods(user):
    return list(ContactMethod.objects.filter(user=user).order_by("notify_after_minutes", "id"))


def _calendar_feeds(profile):
    """Absolute iCal URLs for the user's own shifts and each schedule they are on.

    Only a saved profile has a token the feeds accept; an unsaved one gets none.
    """
    if profile.pk is None:
        return []
    query = f"?token={profile.calendar_token}"
    feeds = [("Your shifts, every schedule",
              settings.SITE_URL + reverse("oncall:my-calendar-feed") + query)]
    for schedule in Schedule.objects.filter(members__user_id=profile.user_id).order_by("name"):
        feeds.append((f"Schedule: {schedule.name}", settings.SITE_URL
                      + reverse("oncall:schedule-calendar-feed", args=[schedule.pk]) + query))
    return feeds


def _context(request, **overrides):
    profile = services.profile_for(request.user)
    methods = _methods(request.user)
    context = {
        "form": ProfileForm(instance=profile),
        "profile": profile,
        "methods": methods,
        "any_enabled": any(m.is_enabled for m in methods),
        "any_working": any(m.is_working for m in methods),
        "add_form": ContactMethodForm(prefix="new"),
        "calendar_feeds": _calendar_feeds(profile),
        "api_tokens": list(ApiToken.objects.filter(user=request.user)),
        "slack_connected": slack.config().connected,
        "slack_identity": SlackIdentity.objects.filter(user=request.user).first(),
    }
    context |= overrides
    return context


def _respond(request, partial, *, status=200, message="", **context):
    """The fragment for HTMX; for a plain POST, redirect on success or the page on refusal."""
    if is_fragment(request):
        return render(request, f"{PROFILE}#{partial}", _context(request, **context),
                      status=status)
    if request.method == "POST" and status < 400:
        if message:
            messages.success(request, message)
        return redirect("oncall:profile")
    return render(request, PROFILE, _context(request, **context), status=status)


def _own_method(request, pk):
    # Scoped to the signed-in user: another person's method is simply not found here.
    return get_object_or_404(ContactMethod, pk=pk, user=request.user)


@require_http_methods(["GET", "POST"])
def profile(request):
    """The signed-in user's own settings page."""
    profile = services.profile_for(request.user)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        services.set_timezone(request.user, form.cleaned_data["timezone"])
        messages.success(request, f"Times are now shown in {form.cleaned_data['timezone']}.")
        return redirect("oncall:profile")
    return render(request, PROFILE, _context(request, form=form))


@require_POST
def contact_method_add(request):
    form = ContactMethodForm(request.POST, prefix="new")
    if not form.is_valid():
        return _respond(request, "contact-methods", status=400, add_form=form)
    data = form.cleaned_data
    try:
        method = services.add_contact_method(
            user=request.user, kind=data["kind"], target=data["target"], label=data["label"],
            notify_after_minutes=data["notify_after_minutes"], enabled=data["enabled"],
            by=request.user)
    except ValidationError as exc:
        form.add_error("target", exc)
        return _respond(request, "contact-methods", status=400, add_form=form)
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
        return _respond(request, "contact-methods", status=403, add_form=form)
    return _respond(request, "contact-methods", message=f"Added {method}.",
                    notice=f"Added {method}. Send a test to make sure it reaches you.")


@require_http_methods(["GET", "POST"])
def contact_method_edit(request, pk):
    """GET: the list with this method's row as a form. POST: save it."""
    method = _own_method(request, pk)
    form = ContactMethodForm(request.POST or None, instance=method)
    if request.method == "GET":
        return _respond(request, "contact-methods", editing=method.pk, edit_form=form)
    if not form.is_valid():
        return _respond(request, "contact-methods", status=400, editing=method.pk,
                        edit_form=form)
    data = form.cleaned_data
    try:
        services.update_contact_method(
            method, target=data["target"], label=data["label"],
            notify_after_minutes=data["notify_after_minutes"], enabled=data["enabled"],
            by=request.user)
    except ValidationError as exc:
        form.add_error("target", exc)
        return _respond(request, "contact-methods", status=400, editing=method.pk,
                        edit_form=form)
    except PermissionDenied as exc:
        return _respond(request, "contact-methods", status=403, error=str(exc))
    return _respond(request, "contact-methods", message=f"Saved {method}.",
                    notice=f"Saved {method}.")


@require_POST
def contact_method_delete(request, pk):
    method = _own_method(request, pk)
    name = str(method)
    try:
        services.delete_contact_method(method, by=request.user)
    except PermissionDenied as exc:
        return _respond(request, "contact-methods", status=403, error=str(exc))
    return _respond(request, "contact-methods", message=f"Deleted {name}.",
                    notice=f"Deleted {name}.")


@require_POST
def contact_method_test(request, pk):
    """Send a test notification now and show whether it was delivered, and why not."""
    method = _own_method(request, pk)
    try:
        ok, detail = services.test_contact_method(method, by=request.user)
    except PermissionDenied as exc:
        return _respond(request, "contact-methods", status=403, error=str(exc))
    text = (f"Test sent to {method}: delivered." if ok
            else f"Test to {method} failed: {detail}")
    if not is_fragment(request):
        (messages.success if ok else messages.error)(request, text)
        return redirect("oncall:profile")
    return _respond(request, "contact-methods", tested=method.pk, test_ok=ok, test_text=text)


@require_POST
def regenerate_calendar_token(request):
    """A new secret for the user's iCal feeds; subscriptions to the old URLs stop."""
    services.regenerate_calendar_token(request.user)
    return _respond(request, "calendar-feeds",
                    message="New calendar URLs made: the old ones no longer work.",
                    feeds_notice="New calendar URLs made: the old ones no longer work. "
                                 "Update your calendar subscriptions.")


@require_POST
def api_token_add(request):
    """A new API token; its secret is in this one response and never again."""
    try:
        _, secret = services.create_api_token(request.user, name=request.POST.get("name", ""))
    except ValidationError as exc:
        return _respond(request, "api-tokens", status=400, token_error=" ".join(exc.messages))
    # Rendered, not redirected, even without HTMX: a redirect would lose the secret.
    template = f"{PROFILE}#api-tokens" if is_fragment(request) else PROFILE
    return render(request, template, _context(request, new_token_secret=secret))


@require_POST
def api_token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    services.revoke_api_token(token, by=request.user)
    return _respond(request, "api-tokens", message=f"Token {token.name} revoked.")



@require_POST
def slack_link(request):
    """Find (look up by e-mail), confirm, or unlink the person's Slack user."""
    step = request.POST.get("step", "")
    try:
        if step == "find":
            row = services.find_slack_user(request.user)
            message = f"Found Slack user {row.slack_name or row.slack_user_id}: confirm it is you."
        elif step == "confirm":
            services.confirm_slack_user(request.user)
            message = "Your Slack user is linked: /incident and the buttons act as you."
        elif step == "unlink":
            services.unlink_slack_user(request.user)
            message = "Your Slack user is unlinked."
        else:
            return _respond(request, "slack-link", status=400, slack_error="Unknown step.")
    except ValidationError as exc:
        return _respond(request, "slack-link", status=400, slack_error=" ".join(exc.messages))
    return _respond(request, "slack-link", message=message, slack_notice=message)
