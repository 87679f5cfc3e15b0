import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reidkit.errors import ImageError
from reidkit.preprocess import clip_box, crop, fit_batch, l2_normalize, to_bgr, to_tensor


def test_to_bgr_handles_grey_rgb_and_alpha():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert to_bgr(grey).shape == (3, 4, 3)
    assert np.array_equal(to_bgr(grey)[..., 0], grey)
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 255  # red in RGB
    assert to_bgr(rgb, "rgb")[0, 0].tolist() == [0, 0, 255]
    rgba = np.dstack([rgb, np.full((2, 2), 7, np.uint8)])
    assert to_bgr(rgba, "rgb")[0, 0].tolist() == [0, 0, 255]
    bgra = np.dstack([rgb, np.full((2, 2), 7, np.uint8)])
    assert to_bgr(bgra, "bgr")[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((0, 5, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 3), np.float32), "uint8"),
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        ("not an array", "NumPy"),
    ],
)
def test_to_bgr_rejects_bad_input(bad, match):
    with pytest.raises(ImageError, match=match):
        to_bgr(bad)  # type: ignore[arg-type]


def test_fit_batch_resizes_and_orders_colour():
    img = np.zeros((10, 6, 3), np.uint8)
    img[..., 2] = 200  # red channel in BGR
    batch = fit_batch([img, img], 4, 8, "rgb")
    assert batch.shape == (2, 8, 4, 3) and batch.dtype == np.uint8
    assert batch[0, 0, 0].tolist() == [200, 0, 0]


def test_to_tensor_is_nchw_normalised():
    batch = np.full((1, 2, 3, 3), 100, np.uint8)
    t = to_tensor(batch, mean=(100, 50, 0), std=(1, 2, 4))
    assert t.shape == (1, 3, 2, 3)
    assert np.allclose(t[0, :, 0, 0], [0, 25, 25])


def test_zero_area_box_is_rejected():
    with pytest.raises(ImageError, match="zero area"):
        clip_box((10, 10, 10, 20), 100, 100)
    with pytest.raises(ImageError, match="zero area"):
        clip_box((150, 10, 200, 20), 100, 100)
    with pytest.raises(ImageError, match="non-finite"):
        clip_box((0, 0, float("nan"), 5), 100, 100)


@given(
    st.floats(-50, 150),
    st.floats(-50, 150),
    st.floats(1, 100),
    st.floats(1, 100),
    st.integers(1, 120),
    st.integers(1, 120),
)
def test_clip_box_stays_inside(x, y, w, h, width, height):
    try:
        x0, y0, x1, y1 = clip_box((x, y, x + w, y + h), width, height)
    except ImageError:
        empty_x = min(width, np.ceil(x + w)) <= max(0, np.floor(x))
        empty_y = min(height, np.ceil(y + h)) <= max(0, np.floor(y))
        assert empty_x or empty_y
        return
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


def test_crop_returns_box_pixels():
    img = np.arange(100, dtype=np.uint8).reshape(10, 10, 1).repeat(3, 2)
    assert crop(img, (2, 3, 5, 7)).shape == (4, 3, 3)
    assert crop(img, (2, 3, 5, 7))[0, 0, 0] == 32


def test_l2_normalize_rows():
    x = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(x, [[0.6, 0.8], [0, 0]])
