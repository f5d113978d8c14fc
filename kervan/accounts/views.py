"""Sign-in, the second factor, and the user's own profile (language, 2FA)."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts import actions, login_throttle, two_factor
from kervan.accounts.actors import Actor
from kervan.accounts.api_auth import client_ip
from kervan.accounts.throttle import RateLimited
from kervan.core.errors import KervanError


def _actor(request) -> Actor:
    return Actor.for_user(request.user, client_ip(request))


def _safe_next(request, default=None) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return resolve_url(default or settings.LOGIN_REDIRECT_URL)


class LoginView(auth_views.LoginView):
    """Django's sign-in, throttled per account and per address (kervan.accounts.login_throttle): a locked sign-in
    is answered 429 with the form and a message saying how long to wait, and its password is not even checked."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        try:
            self.attempt = login_throttle.attempt_begin(request, request.POST.get("username", ""))
        except RateLimited as exc:
            context = self.get_context_data(form=self.form_class(request), locked=exc.detail)
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        # A second factor passed earlier in this browser never carries over to a new login.
        self.request.session.pop(two_factor.SESSION_VERIFIED, None)
        response = super().form_valid(form)
        login_throttle.attempt_succeeded(self.attempt, response)
        actions.login_record(actor=_actor(self.request))
        # The UI speaks the language the user chose in their profile.
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, form.get_user().language, samesite="Lax")
        return response

    def get_success_url(self):
        url = super().get_success_url()
        if self.request.user.is_authenticated and two_factor.session_needs_two_factor(self.request):
            return f"{reverse('accounts:two_factor')}?{urlencode({'next': url})}"
        return url


def _enrolment_context(request) -> dict:
    """A new secret kept in the session until confirmed, as a QR code and as text."""
    secret = request.session.get(two_factor.SESSION_PENDING_SECRET)
    if not secret:
        secret = two_factor.new_secret()
        request.session[two_factor.SESSION_PENDING_SECRET] = secret
    uri = two_factor.provisioning_uri(secret, request.user.username)
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return {"qr_svg": two_factor.qr_svg(uri), "secret": spaced, "otpauth_uri": uri}


def _enable(request) -> bool:
    """Confirm a pending enrolment with the posted code; True on success (errors go to messages)."""
    try:
        actions.two_factor_enable(
            actor=_actor(request),
            secret=request.session.get(two_factor.SESSION_PENDING_SECRET, ""),
            code=request.POST.get("code", ""),
        )
    except KervanError as exc:
        messages.error(request, exc.detail)
        return False
    request.session.pop(two_factor.SESSION_PENDING_SECRET, None)
    request.session[two_factor.SESSION_VERIFIED] = True
    messages.success(request, _("Two-factor authentication is on."))
    return True


@login_required
def two_factor_page(request):
    """The login step: enter a code, or — when the role requires 2FA and none is set up — set it up now."""
    next_url = _safe_next(request)
    if not two_factor.session_needs_two_factor(request):
        return redirect(next_url)
    enrolling = not request.user.has_two_factor
    status = 200
    if request.method == "POST":
        if enrolling:
            if _enable(request):
                request.session.cycle_key()
                return redirect(next_url)
        else:
            try:
                actions.two_factor_login_verify(actor=_actor(request), code=request.POST.get("code", ""))
            except KervanError as exc:
                messages.error(request, exc.detail)
            else:
                request.session[two_factor.SESSION_VERIFIED] = True
                request.session.cycle_key()
                return redirect(next_url)
        status = 400
    context = {"enrolling": enrolling, "next": next_url}
    if enrolling:
        context.update(_enrolment_context(request))
    return render(request, "accounts/two_factor.html", context, status=status)


@login_required
def profile(request):
    """Every user's own page: interface language and two-factor authentication."""
    if request.method == "POST":
        try:
            user = actions.profile_set_language(actor=_actor(request), language=request.POST.get("language", ""))
        except KervanError as exc:
            messages.error(request, exc.detail)
            return redirect("accounts:profile")
        messages.success(request, _("Your language is saved."))
        response = redirect("accounts:profile")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
        return response
    context = {
        "role_requires_two_factor": two_factor.role_requires_two_factor(request.user.role),
        "languages": actions.LANGUAGES,
    }
    return render(request, "accounts/profile.html", context)


@login_required
def two_factor_enrol(request):
    """Set up 2FA from the profile: scan the QR code (or type the secret), then confirm with a code."""
    if request.user.has_two_factor:
        return redirect("accounts:profile")
    if request.method == "POST" and _enable(request):
        return redirect("accounts:profile")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/two_factor_enrol.html", _enrolment_context(request), status=status)


@require_POST
@login_required
def two_factor_disable(request):
    try:
        actions.two_factor_disable(actor=_actor(request), code=request.POST.get("code", ""))
    except KervanError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Two-factor authentication is off."))
    return redirect("accounts:profile")
