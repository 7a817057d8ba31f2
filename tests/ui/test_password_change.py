"""The password change page: where users with an initial or expired password are sent."""

import pytest
from django.urls import reverse

from towngrid.accounts.models import User

pytestmark = pytest.mark.django_db

OLD, NEW = "Initial-pass-2023", "Brand-new-pass-77"


@pytest.fixture
def fresh(user_factory):
    user = user_factory(role="town_leader", username="fresh-ui", password=OLD)
    User.objects.filter(pk=user.pk).update(must_change_password=True)
    user.refresh_from_db()
    return user


def test_must_change_user_is_sent_to_the_page_and_back(client, fresh):
    client.force_login(fresh)
    response = client.get("/grids/")
    page = reverse("accounts:password_change")
    assert response.status_code == 302 and response["Location"].startswith(page)
    text = client.get(response["Location"]).content.decode()
    assert "初始密码" in text and 'name="next" value="/grids/"' in text
    response = client.post(
        page, {"old_password": OLD, "new_password1": NEW, "new_password2": NEW, "next": "/grids/"}
    )
    assert response.status_code == 302 and response["Location"] == "/grids/"
    fresh.refresh_from_db()
    assert not fresh.must_change_password and fresh.check_password(NEW)
    assert client.get("/grids/").status_code == 200  # still logged in, no longer held


def test_wrong_old_password_and_mismatch_are_explained_in_chinese(client, fresh):
    client.force_login(fresh)
    page = reverse("accounts:password_change")
    text = client.post(
        page, {"old_password": "nope", "new_password1": NEW, "new_password2": NEW}
    ).content.decode()
    assert "原密码不正确" in text
    text = client.post(
        page, {"old_password": OLD, "new_password1": NEW, "new_password2": NEW + "x"}
    ).content.decode()
    assert "两次输入的新密码不一致" in text
    text = client.post(
        page, {"old_password": OLD, "new_password1": "12345", "new_password2": "12345"}
    ).content.decode()
    assert "密码不符合要求" in text
    fresh.refresh_from_db()
    assert fresh.check_password(OLD)


def test_change_without_next_shows_done_page_and_ignores_foreign_next(client, user_factory):
    user = user_factory(role="grid_worker", username="plain-ui", password=OLD)
    client.force_login(user)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": OLD,
            "new_password1": NEW,
            "new_password2": NEW,
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == reverse("accounts:password_change_done")
    assert "密码已修改" in client.get(response["Location"]).content.decode()
