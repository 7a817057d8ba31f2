from django.urls import path

from . import views_notifications

app_name = "notifications"
urlpatterns = [
    path("", views_notifications.notifications, name="list"),
    path("read/", views_notifications.mark_read, name="read"),
]
