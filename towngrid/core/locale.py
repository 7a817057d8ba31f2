from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    """Chinese for everyone unless they chose otherwise with the language switch.

    Django's stock middleware follows the browser's Accept-Language, which would give an
    English-configured browser in the operations centre an English UI nobody asked for; the town's
    UI is Chinese by default (DESIGN.md) and English is an explicit choice, kept in a cookie.
    """

    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
