"""spectral_xai.explain, the one call a notebook makes: on the dataset's scenes and on images a user
brings (a folder of files of any size and format), on the shared trained net."""
import math

import numpy as np
import pytest
import torch
from PIL import Image

from spectral_xai import ExplainSettings, explain, load_checkpoint
from spectral_xai.data_modules.user_images import UserImageError, image_files, read_user_image
from spectral_xai.settings import SettingsError

FAST = {"methods": ["gradcam"], "step": 0.25, "target_min_score": 0.0}


@pytest.fixture(scope="module")
def loaded(trained_checkpoint):
    module, data = load_checkpoint(trained_checkpoint)
    data.setup("test")
    return module, data


@pytest.mark.slow
def test_a_dataset_scene_and_the_same_file_brought_by_the_user_explain_alike(loaded, trained_checkpoint, tmp_path):
    """The scene's own PNG, given as a user image, is read, resized and normalised as the dataset
    does: the same detections, maps and AUCs; only the annotations are missing, so the
    localisation scores are judged against the detection itself."""
    module, data = loaded
    record = data.datasets["test"].records[0]
    from_data = explain(trained_checkpoint, scenes=[record.sample_id], **FAST)
    from_file = explain((module, data), record.paths["mir"], **FAST)
    assert len(from_data) == len(from_file) == 1
    ours, theirs = from_data[0].results, from_file[0].results
    assert [r.method for r in ours] == [r.method for r in theirs] == ["gradcam", "random", "box"]
    for a, b in zip(ours, theirs):
        assert torch.equal(a.target.box, b.target.box) and a.target.score == b.target.score
        assert torch.allclose(a.saliency, b.saliency, atol=1e-6)
        assert a.deletion.auc == pytest.approx(b.deletion.auc, abs=1e-6)
    assert from_file[0].explanation.sample_id == record.paths["mir"].stem
    assert {r.localisation.against for r in theirs} == {"detection"}


@pytest.mark.slow
def test_a_folder_of_images_in_other_sizes_and_formats_is_explained_and_drawn(loaded, tmp_path):
    """A JPEG at another size and aspect, a 16-bit grey PNG and an .npy array: each resized to the
    net's input and explained; results draw themselves and become rows with boxes.csv's columns."""
    module, data = loaded
    scene = read_user_image(data.datasets["test"].records[1].paths["mir"])  # H x W x 3 in [0, 1]
    folder = tmp_path / "night"
    folder.mkdir()
    Image.fromarray((scene * 255).astype(np.uint8)).resize((300, 170)).save(folder / "frame_a.jpg")
    Image.fromarray((scene[:, :, 0] * 60000 + 1000).astype(np.uint16)).save(folder / "frame_b.png")
    np.save(folder / "frame_c.npy", scene.astype(np.float32))
    for name in ("frame_d", "frame_e"):  # more images than the 4 dataset scenes explained by default: all are
        Image.fromarray((scene * 255).astype(np.uint8)).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not an image")
    explained = explain((module, data), folder, settings=ExplainSettings(**FAST, baselines=False))
    assert [e.explanation.sample_id for e in explained] == ["frame_a", "frame_b", "frame_c", "frame_d", "frame_e"]
    size = data.hparams.image_size
    assert all(tuple(e.explanation.image.shape) == (3, size, size) for e in explained)
    figure = explained[0].figure()
    assert isinstance(figure, Image.Image) and figure.width > figure.height > 100  # the image and one map per box
    rows = explained.rows()
    assert len(rows) == sum(len(e.explanation.targets) for e in explained) >= 5
    assert {row["method"] for row in rows} == {"gradcam"} and all(0 <= row["deletion_auc"] <= 1 for row in rows)
    assert rows[0]["class"] in data.class_names and not math.isnan(rows[0]["score"])
    frame = explained.to_frame()
    assert list(frame.columns) == list(rows[0]) and len(frame) == len(rows)


def test_unreadable_or_unsuitable_images_are_refused_naming_the_file(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(UserImageError, match="broken.png: cannot be read"):
        read_user_image(broken)
    hot = tmp_path / "hot.npy"
    np.save(hot, np.full((8, 8, 3), 2.0, dtype=np.float32))
    with pytest.raises(UserImageError, match=r"hot.npy: float pixels must be finite and in \[0, 1\]"):
        read_user_image(hot)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserImageError, match="empty: a folder with no image files"):
        image_files(empty)
    with pytest.raises(UserImageError, match="missing.png: no such image file"):
        image_files(tmp_path / "missing.png")


def test_grey_and_sixteen_bit_images_are_read_as_the_dataset_reads_them(tmp_path):
    grey = np.arange(64, dtype=np.uint16).reshape(8, 8) * 100 + 5000
    Image.fromarray(grey).save(tmp_path / "thermal.png")
    read = read_user_image(tmp_path / "thermal.png")
    assert read.shape == (8, 8, 3) and read.min() == 0 and read.max() == 1  # stretched per image
    assert np.array_equal(read[:, :, 0], read[:, :, 2])
    Image.fromarray(np.zeros((4, 6, 4), dtype=np.uint8)).save(tmp_path / "alpha.png")
    assert read_user_image(tmp_path / "alpha.png").shape == (4, 6, 3)


def test_settings_and_keywords_together_are_refused_before_anything_is_read(tmp_path):
    with pytest.raises(SettingsError, match="not both"):
        explain(tmp_path / "not_read.ckpt", settings=ExplainSettings(), methods=["gradcam"])


def _scene_pixels(synthetic_root) -> np.ndarray:
    return np.asarray(Image.open(sorted((synthetic_root / "ConvertedImages" / "mir").glob("*.png"))[0]).convert("RGB"))


def test_images_in_memory_are_explained_as_their_file_would_be(trained_checkpoint, synthetic_root, tmp_path):
    """A numpy array (H x W x C, C x H x W; uint8, uint16, float), a tensor, a PIL image, a batch and a
    list mixing them with a path: each read as the same picture saved to a PNG, named by position."""
    pixels = _scene_pixels(synthetic_root)
    path = tmp_path / "scene.png"
    Image.fromarray(pixels).save(path)
    from_file = explain(trained_checkpoint, path, **FAST)[0].results[0]
    given = [pixels, np.moveaxis(pixels, -1, 0), pixels.astype(np.float32) / 255,
             torch.from_numpy(pixels.copy()).permute(2, 0, 1), Image.fromarray(pixels)]
    explained = explain(trained_checkpoint, [*given, path], **FAST)
    assert [e.explanation.sample_id for e in explained] == [f"image_{i}" for i in range(len(given))] + ["scene"]
    for image in explained:
        result = image.results[0]
        assert torch.equal(result.target.box, from_file.target.box)
        assert torch.allclose(result.saliency, from_file.saliency, atol=1e-5)
    batch = explain(trained_checkpoint, np.stack([pixels, pixels]), **FAST)
    assert [e.explanation.sample_id for e in batch] == ["image_0", "image_1"]
    stretched = (pixels.astype(np.uint16) * 257)  # 16 bits: stretched from its minimum to its maximum
    assert explain(trained_checkpoint, stretched, **FAST)[0].results[0].target.score > 0
    with pytest.raises(UserImageError, match="image 0: float pixels must be finite and in"):
        explain(trained_checkpoint, pixels.astype(np.float32), **FAST)


def test_a_large_images_boxes_and_maps_come_back_in_its_own_pixels(trained_checkpoint, synthetic_root, tmp_path):
    """A 4000 x 3000 copy of a 320 x 256 scene: the net sees nearly the same 128-px input, so its box,
    in the image's own pixels, is the scene's box scaled by 12.5 and 11.7 (to within a few pixels of
    the net's input), and the map has the image's size."""
    settings = {**FAST, "target_min_score": 0.1}
    scenes = sorted((synthetic_root / "ConvertedImages" / "mir").glob("*.png"))[:12]
    best = max(explain(trained_checkpoint, scenes, **settings), key=lambda image: image.results[0].target.score)
    small = best.results[0]  # the scene whose top detection the net is surest of
    pixels = np.asarray(Image.open(scenes[[s.stem for s in scenes].index(best.explanation.sample_id)]).convert("RGB"))
    Image.fromarray(pixels).resize((4000, 3000)).save(tmp_path / "big.jpg", quality=95)
    big = explain(trained_checkpoint, tmp_path / "big.jpg", **settings)[0].results[0]
    assert small.image_scale == (320 / 128, 256 / 128) and big.image_scale == (4000 / 128, 3000 / 128)
    scaled = [v * f for v, f in zip(small.target.box.tolist(), (4000 / 128, 3000 / 128) * 2)]
    off = max(abs(a - b) / f for a, b, f in zip(big.image_box, scaled, (4000 / 128, 3000 / 128) * 2))
    assert off < 3  # 0.10 px on the shared net: the two 128-px inputs differ only by resampling
    row = explain(trained_checkpoint, tmp_path / "big.jpg", **settings).rows()[0]
    assert [row[k] for k in ("x1", "y1", "x2", "y2")] == [round(v, 1) for v in big.image_box]
    assert tuple(big.image_saliency().shape) == (3000, 4000) and tuple(big.saliency.shape) == (128, 128)
