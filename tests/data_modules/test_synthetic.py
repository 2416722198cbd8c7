"""The synthetic twin: same bytes for the same seed, the real layout, and spectra that differ as physics says."""
import filecmp
from collections import defaultdict

import cv2
import numpy as np
import pytest

from spectral_xai.data_modules import layout
from spectral_xai.data_modules.images import read_image
from spectral_xai.data_modules.synthetic import write_synthetic_dataset
from spectral_xai.data_modules.voc import read_voc


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = write_synthetic_dataset(tmp_path_factory.mktemp("physics"), num_scenes=60, seed=1)
    out = []
    for xml in sorted((root / layout.CONVERTED_ANNOTATIONS).glob("*.xml")):
        images = {s: read_image(layout.image_path(root, layout.CONVERTED_IMAGES, s, xml.stem)) for s in layout.SPECTRA}
        fir_bits = cv2.imread(str(layout.image_path(root, layout.CONVERTED_IMAGES, "fir", xml.stem)), cv2.IMREAD_UNCHANGED).dtype
        out.append((xml.stem, images, read_voc(xml, layout.CLASS_NAMES), fir_bits))
    return root, out


def test_same_seed_writes_identical_files(tmp_path):
    a = write_synthetic_dataset(tmp_path / "a", num_scenes=3, seed=7)
    b = write_synthetic_dataset(tmp_path / "b", num_scenes=3, seed=7)
    c = write_synthetic_dataset(tmp_path / "c", num_scenes=3, seed=8)
    rel = "ConvertedImages/rgb/000001.png"
    assert filecmp.cmp(a / rel, b / rel, shallow=False)
    assert not filecmp.cmp(a / rel, c / rel, shallow=False)


def test_layout_and_formats_match_the_real_dataset(scenes):
    root, items = scenes
    for spectrum in layout.SPECTRA:
        assert len(list((root / layout.CONVERTED_IMAGES / spectrum).glob("*.png"))) == 60
    raw = cv2.imread(str(root / layout.CONVERTED_IMAGES / "nir" / "000001.png"), cv2.IMREAD_UNCHANGED)
    assert raw.shape == (256, 320) and raw.dtype == np.uint8
    bits = [b for *_, b in items]
    assert bits.count(np.uint16) == 20 and bits.count(np.uint8) == 40
    assert 0 < len(list((root / layout.VIS_OK).glob("*.png"))) < 60
    assert {layout.CLASS_NAMES[label] for *_, ann, _ in items for label in ann.labels} == set(layout.CLASS_NAMES)


def _contrast(image: np.ndarray, box: np.ndarray) -> float:
    """Largest per-channel difference between the mean inside the box and a margin around it."""
    x1, y1, x2, y2 = box.astype(int)
    h, w, _ = image.shape
    m = 6
    outer = image[max(0, y1 - m):min(h, y2 + m), max(0, x1 - m):min(w, x2 + m)]
    inner = image[y1:y2, x1:x2]
    ring_area = outer.shape[0] * outer.shape[1] - inner.shape[0] * inner.shape[1]
    ring = (outer.sum(axis=(0, 1)) - inner.sum(axis=(0, 1))) / max(1, ring_area)
    return float(np.abs(inner.mean(axis=(0, 1)) - ring).max())


def test_spectra_differ_the_way_physics_does(scenes):
    _, items = scenes
    contrast = defaultdict(list)
    day_rgb, night_rgb, day_fir, night_fir, nir_rgb_corr = [], [], [], [], []
    for _, images, ann, fir_bits in items:
        night = images["rgb"].mean() < 0.2
        (night_rgb if night else day_rgb).append(images["rgb"].mean())
        if fir_bits == np.uint8:  # 16-bit files are stretched per image: not comparable in level
            (night_fir if night else day_fir).append(images["fir"].mean())
        if not night:
            luminance = images["rgb"] @ np.array([0.299, 0.587, 0.114], np.float32)
            nir_rgb_corr.append(np.corrcoef(luminance.ravel(), images["nir"][:, :, 0].ravel())[0, 1])
        for box, label in zip(ann.boxes, ann.labels):
            for spectrum in ("rgb", "fir"):
                contrast[(layout.CLASS_NAMES[label], spectrum)].append(_contrast(images[spectrum], box))
    mean = {k: float(np.mean(v)) for k, v in contrast.items()}
    assert np.mean(night_rgb) < 0.3 * np.mean(day_rgb)  # RGB dark at night
    assert abs(np.mean(night_fir) - np.mean(day_fir)) < 0.15  # FIR is not
    assert mean[("person", "fir")] > 0.15  # people are warm
    assert mean[("car", "fir")] > 2 * mean[("car_stop", "fir")]  # running engines are warm, parked cars not
    assert mean[("color_cone", "rgb")] > 3 * mean[("color_cone", "fir")]  # vivid in colour, faint in heat
    assert np.mean(nir_rgb_corr) > 0.6  # NIR follows RGB luminance
