from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        # The UI speaks the language the user chose in their profile.
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, form.get_user().language, samesite="Lax")
        return response


def two_factor(request):
    """Placeholder until 2FA pages land: see kervan.accounts.two_factor."""
    return render(request, "accounts/two_factor.html", {})


def settings_page(request):
    """Placeholder until the settings pages land."""
    return render(request, "accounts/two_factor.html", {})
