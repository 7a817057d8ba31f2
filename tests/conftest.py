import pytest


@pytest.fixture(autouse=True)
def _zh_hans(settings):
    settings.LANGUAGE_CODE = "zh-hans"
