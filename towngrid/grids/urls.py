from django.urls import path

from . import views

app_name = "grids"
urlpatterns = [
    path("", views.grid_map, name="map"),
    path("<str:code>/", views.GridDetailView.as_view(), name="detail"),
]
