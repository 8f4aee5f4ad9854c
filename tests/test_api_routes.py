"""The JSON API owns its own routes only: a host's routes beside it, under the same
prefix and declared after the include, keep working, and a path the API does not know
gets the host's own 404, not the API's JSON."""

import pytest
from django.http import HttpResponse
from django.urls import include, path

from .test_api import assert_json_error

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def profile(request):
    return HttpResponse("the host's profile page")


urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/devices/", include("sessions_mgmt.urls")),
    path("me/", include("sessions_mgmt.api_urls")),
    path("me/profile/", profile),  # after the include, under the same prefix
    path("me/sessions-export.csv", profile),
]


def test_a_host_route_declared_after_the_include_answers(user, sign_in):
    laptop = sign_in(user)
    response = laptop.get("/me/profile/")
    assert response.status_code == 200
    assert response.content == b"the host's profile page"
    assert laptop.get("/me/sessions-export.csv").status_code == 200


def test_the_api_still_answers_its_own_routes_and_ids(user, sign_in):
    laptop = sign_in(user)
    assert laptop.get("/me/sessions").status_code == 200
    assert_json_error(laptop.get("/me/sessions/not-an-id"), 404)
    assert_json_error(laptop.get("/me/sessions/x/y"), 404)


def test_a_path_the_api_does_not_know_is_the_hosts_404(user, sign_in):
    laptop = sign_in(user)
    response = laptop.get("/me/nothing-here")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
