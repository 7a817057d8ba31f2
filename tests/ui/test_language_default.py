"""Chinese is the default for everyone; English is an explicit choice kept in a cookie."""

from django.conf import settings
from django.urls import reverse


def test_english_browser_still_gets_chinese(client):
    page = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page["Content-Language"] == "zh-hans"
    assert "登录" in page.content.decode()


def test_language_switch_gives_english_until_switched_back(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("accounts:login"))
    assert page["Content-Language"] == "en"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert client.get(reverse("accounts:login"))["Content-Language"] == "zh-hans"
