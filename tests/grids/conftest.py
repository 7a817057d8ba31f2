import pytest

from .test_geo_fixtures import build_tiny_grid, reset_index


@pytest.fixture(autouse=True)
def _fresh_index():
    """Each test starts and ends with no in-process grid index, so none sees another's grid."""
    reset_index()
    yield
    reset_index()


@pytest.fixture
def tiny_grid(db):
    return build_tiny_grid()
