import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from towngrid.grids import crs

# Reference values published with the coordtransform library (wandergis/coordTransform_py) for
# (116.404, 39.915), Tiananmen.
REF = (116.404, 39.915)


def test_wgs84_to_gcj02_reference():
    assert crs.wgs84_to_gcj02(*REF) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-12
    )


def test_gcj02_to_bd09_reference():
    assert crs.gcj02_to_bd09(*REF) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-12
    )


def test_bd09_to_gcj02_reference():
    # The published closed form gives (116.39762729119315, 39.90865673957631); ours refines it
    # to the exact inverse, within 1e-6° of it, and maps back to the input.
    got = crs.bd09_to_gcj02(*REF)
    assert got == pytest.approx((116.39762729119315, 39.90865673957631), abs=1e-6)
    assert crs.gcj02_to_bd09(*got) == pytest.approx(REF, abs=1e-9)


def test_gcj02_to_wgs84_is_the_exact_inverse():
    # coordtransform's one-step inverse gives (116.39775550083061, 39.91359571849836), about
    # 3e-7° off; the iterated inverse lands within 1e-7° of it and maps back exactly.
    lng, lat = crs.gcj02_to_wgs84(*REF)
    assert (lng, lat) == pytest.approx((116.39775550083061, 39.91359571849836), abs=1e-6)
    assert crs.wgs84_to_gcj02(lng, lat) == pytest.approx(REF, abs=1e-9)


def test_beicai_offset_is_a_few_hundred_metres():
    lng, lat = crs.wgs84_to_gcj02(121.54, 31.19)
    assert 0.003 < lng - 121.54 < 0.006
    assert -0.003 < lat - 31.19 < 0.0


def test_outside_china_no_offset():
    assert crs.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert crs.gcj02_to_wgs84(-74.0, 40.7) == (-74.0, 40.7)
    assert crs.out_of_china(2.35, 48.85) is True
    assert crs.out_of_china(121.54, 31.19) is False


def test_vectorized_matches_scalar():
    lngs = np.array([116.404, 121.54, 2.35, 113.3])
    lats = np.array([39.915, 31.19, 48.85, 23.1])
    for fn in (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84, crs.wgs84_to_bd09, crs.bd09_to_wgs84):
        vx, vy = fn(lngs, lats)
        assert isinstance(vx, np.ndarray) and vx.shape == (4,)
        for i in range(4):
            sx, sy = fn(float(lngs[i]), float(lats[i]))
            assert isinstance(sx, float)
            # Iterated inverses stop when the whole batch converges: equal to far below 1e-7°.
            assert (vx[i], vy[i]) == pytest.approx((sx, sy), abs=1e-10)


@pytest.mark.parametrize("name", ["wgs84", "WGS84", "cgcs2000", "CGCS2000", " gcj02 ", "BD09"])
def test_to_wgs84_accepts_names_case_insensitively(name):
    x, y = crs.to_wgs84(121.54, 31.19, name)
    assert abs(x - 121.54) < 0.02 and abs(y - 31.19) < 0.02


def test_to_wgs84_identity_for_wgs84_and_cgcs2000():
    assert crs.to_wgs84(121.54, 31.19, "wgs84") == (121.54, 31.19)
    assert crs.to_wgs84(121.54, 31.19, "cgcs2000") == (121.54, 31.19)


def test_to_wgs84_round_trips_each_crs():
    w = (121.5432, 31.1876)
    assert crs.to_wgs84(*crs.wgs84_to_gcj02(*w), "gcj02") == pytest.approx(w, abs=1e-7)
    assert crs.to_wgs84(*crs.wgs84_to_bd09(*w), "bd09") == pytest.approx(w, abs=1e-7)


def test_unknown_crs_raises_a_chinese_message():
    with pytest.raises(ValueError, match="不支持的坐标系"):
        crs.to_wgs84(121.5, 31.2, "epsg:3857")


china_lng = st.floats(min_value=74.0, max_value=134.9, allow_nan=False)
china_lat = st.floats(min_value=4.0, max_value=53.5, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(china_lng, china_lat)
def test_gcj02_round_trip(lng, lat):
    back = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lng, lat))
    assert back == pytest.approx((lng, lat), abs=1e-7)


@settings(max_examples=300, deadline=None)
@given(china_lng, china_lat)
def test_bd09_round_trip(lng, lat):
    back = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lng, lat))
    assert back == pytest.approx((lng, lat), abs=1e-7)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(china_lng, china_lat), min_size=1, max_size=50))
def test_vectorized_round_trip(points):
    lngs = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    x, y = crs.to_wgs84(*crs.wgs84_to_gcj02(lngs, lats), "gcj02")
    assert np.max(np.abs(x - lngs)) < 1e-7 and np.max(np.abs(y - lats)) < 1e-7
