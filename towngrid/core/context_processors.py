from django.conf import settings


def site(request):
    return {
        "TOWN_NAME": "北蔡镇",
        "PRODUCTION": settings.PRODUCTION,
        "TILE_URL": settings.TOWNGRID_TILE_URL,
        "TILE_ATTRIBUTION": settings.TOWNGRID_TILE_ATTRIBUTION,
    }
