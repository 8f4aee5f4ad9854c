"""An authentication backend that signs in ``Partner`` accounts (tests.testapp), not users
of AUTH_USER_MODEL."""

from tests.testapp.models import Partner


class PartnerBackend:
    def authenticate(self, request, username=None, password=None, **kwargs):
        partner = Partner.objects.filter(username=username).first()
        if partner is not None and partner.check_password(password):
            return partner
        return None

    def get_user(self, user_id):
        return Partner.objects.filter(pk=user_id).first()
