"""The demo's sign-in view: "Remember me" decides how long the session lasts."""

from datetime import timedelta

from django.contrib.auth import views as auth_views

from .forms import SignInForm

#: How long a "remember me" session lasts; unchecked, it ends when the browser closes.
REMEMBER_ME_AGE = timedelta(days=30)


class SignInView(auth_views.LoginView):
    form_class = SignInForm

    def form_valid(self, form):
        response = super().form_valid(form)  # login(): the session is signed in now
        if form.cleaned_data.get("remember_me"):
            self.request.session.set_expiry(int(REMEMBER_ME_AGE.total_seconds()))
        else:
            self.request.session.set_expiry(0)
        return response
