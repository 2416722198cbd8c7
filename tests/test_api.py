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
