from django.urls import path

from . import views

app_name = "codes"
urlpatterns = [
    path("", views.index, name="index"),
    path("patrols/", views.patrol_page, name="patrols"),
    path("plates/", views.plates_page, name="plates"),
]

# The colour engine's routes share this prefix and namespace.
from .colour_urls import urlpatterns as colour_urlpatterns  # noqa: E402

urlpatterns += colour_urlpatterns
