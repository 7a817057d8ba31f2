from django.urls import re_path

from . import views

app_name = "open311"
F = r"\.(?P<format>json|xml)$"
urlpatterns = [
    re_path(r"^v2/discovery" + F, views.DiscoveryView.as_view(), name="discovery"),
    re_path(r"^v2/services" + F, views.ServiceListView.as_view(), name="services"),
    re_path(
        r"^v2/services/(?P<code>[^/]+?)" + F, views.ServiceDefinitionView.as_view(), name="service"
    ),
    re_path(r"^v2/requests" + F, views.RequestsView.as_view(), name="requests"),
    re_path(
        r"^v2/requests/(?P<request_id>[^/]+?)" + F,
        views.RequestDetailView.as_view(),
        name="request",
    ),
    re_path(r"^v2/tokens/(?P<token>[^/]+?)" + F, views.TokenView.as_view(), name="token"),
    re_path(r"^v2/servicerequestupdates" + F, views.UpdatesView.as_view(), name="updates"),
    re_path(r"^v2/media/(?P<token>[^/]+)/$", views.public_media, name="media"),
]
