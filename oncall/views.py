from django.contrib import messages
from django.shortcuts import redirect, render

from . import services
from .forms import ProfileForm


def profile(request):
    """The signed-in user's own settings: their time zone."""
    profile = services.profile_for(request.user)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        services.set_timezone(request.user, form.cleaned_data["timezone"])
        messages.success(request, f"Times are now shown in {form.cleaned_data['timezone']}.")
        return redirect("oncall:profile")
    return render(request, "oncall/profile.html", {"form": form})
