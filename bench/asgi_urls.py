"""URLs of the ASGI benchmark: the demo's, plus an async view that reads the user."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as demo_urlpatterns


async def awhoami(request):
    user = await request.auser()
    return HttpResponse(user.get_username() if user.is_authenticated else "")


urlpatterns = [path("awhoami/", awhoami), *demo_urlpatterns]
