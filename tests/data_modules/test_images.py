import cv2
import numpy as np
import pytest

from spectral_xai.data_modules.images import ImageReadError, read_image, read_size_wh


@pytest.mark.parametrize(
    "data, expected",
    [
        (np.full((4, 5), 255, np.uint8), np.ones((4, 5, 3))),
        (np.dstack([np.zeros((4, 5)), np.zeros((4, 5)), np.full((4, 5), 51)]).astype(np.uint8),  # BGR: red=51
         np.dstack([np.full((4, 5), 0.2), np.zeros((4, 5)), np.zeros((4, 5))])),
        (np.dstack([np.full((4, 5), 255)] * 3 + [np.zeros((4, 5))]).astype(np.uint8), np.ones((4, 5, 3))),
    ],
    ids=["8bit-gray", "8bit-bgr", "8bit-bgra"],
)
def test_8bit_layouts_become_rgb_in_unit_range(tmp_path, data, expected):
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), data)
    image = read_image(path)
    assert image.dtype == np.float32 and image.shape == (4, 5, 3)
    np.testing.assert_allclose(image, expected, atol=1e-6)


def test_16bit_single_channel_is_stretched_min_to_max_and_repeated(tmp_path):
    counts = np.array([[27000, 28000], [29000, 31000]], np.uint16)
    path = tmp_path / "fir.png"
    cv2.imwrite(str(path), counts)
    image = read_image(path)
    np.testing.assert_allclose(image[:, :, 0], [[0, 0.25], [0.5, 1.0]], atol=1e-6)
    assert np.array_equal(image[:, :, 0], image[:, :, 2])


def test_16bit_constant_image_is_zero_not_nan(tmp_path):
    path = tmp_path / "flat.png"
    cv2.imwrite(str(path), np.full((3, 3), 30000, np.uint16))
    assert np.all(read_image(path) == 0)


def test_gray_alpha_png_reads_as_repeated_gray(tmp_path):
    from PIL import Image

    data = np.dstack([np.full((3, 3), 51), np.full((3, 3), 255)]).astype(np.uint8)
    path = tmp_path / "la.png"
    Image.fromarray(data, mode="LA").save(path)
    np.testing.assert_allclose(read_image(path), np.full((3, 3, 3), 0.2), atol=1e-6)


def test_garbage_file_is_refused_with_its_path(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not a png at all, just text" * 4)
    with pytest.raises(ImageReadError, match="broken.png"):
        read_image(path)
    with pytest.raises(ImageReadError, match="broken.png: not a PNG"):
        read_size_wh(path)


def test_header_size_matches_decoded_size(tmp_path):
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), np.zeros((7, 11), np.uint8))
    assert read_size_wh(path) == (11, 7)
