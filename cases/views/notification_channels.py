"""The desk page where staff choose which notifications also reach them by email or SMS.

Always the signed-in user's own choices: the URL names no user, so nobody
can read or change anyone else's.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from cases.forms.notification_channels import NotificationChannelsForm
from chengguan.errors import DomainError
from chengguan.notifications import channels_for, notification_channels_save


@login_required
def notification_channels(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.has_perm("cases.view_case"):  # staff only; residents hear by SMS on their reports
        raise PermissionDenied
    form = NotificationChannelsForm(
        request.POST or None,
        current=channels_for(user),  # type: ignore[arg-type]
        has_email=bool(user.email),  # type: ignore[union-attr]
        has_phone=bool(user.phone),  # type: ignore[union-attr]
    )
    if request.method == "POST" and form.is_valid():
        try:
            notification_channels_save(user=user, choices=form.choices())  # type: ignore[arg-type]
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Your notification settings were saved."))
            return redirect("desk:notification_channels")
    status = 400 if request.method == "POST" else 200
    return render(request, "cases/desk/notification_channels.html", {"form": form}, status=status)
