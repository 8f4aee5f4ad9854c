"""A strict Content-Security-Policy for the demo: its pages load nothing from elsewhere and
run no inline script, so this is all they need. (Django 6 ships its own CSP middleware; the
demo also runs on 5.2.)"""

from django.conf import settings
from django.utils.deprecation import MiddlewareMixin

DEFAULT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Sync and async (MiddlewareMixin), so that it does not force the stack below it to
    run in a thread under ASGI."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.policy = getattr(settings, "DEMO_CONTENT_SECURITY_POLICY", DEFAULT_POLICY)

    def process_response(self, request, response):
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
