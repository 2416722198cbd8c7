"""Scene descriptions written with the data: read back, they render the written images again; a
description that does not fit its images or annotations is an error naming the file."""
import json

import cv2
import numpy as np
import pytest

from spectral_xai.data_modules import layout
from spectral_xai.data_modules.reader import DatasetError
from spectral_xai.data_modules.render import SPECTRA, Change, render
from spectral_xai.data_modules.layout import SCENES, scene_path
from spectral_xai.data_modules.scene_files import check_scene, read_scene, write_scene
from spectral_xai.data_modules.synthetic import write_png, write_synthetic_dataset, written_scene
from spectral_xai.data_modules.voc import read_voc


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return write_synthetic_dataset(tmp_path_factory.mktemp("described"), num_scenes=8, seed=2)


def test_a_description_read_back_renders_the_written_images_and_every_change_alike(written, tmp_path):
    for index in range(8):
        sample_id = f"{index:06d}"
        scene = read_scene(written, sample_id)
        drawn = written_scene(2, index)
        assert [o.name for o in scene.objects] == [o.name for o in drawn.objects]
        images = render(scene)
        for spectrum in SPECTRA:
            write_png(tmp_path / f"{spectrum}.png", images[spectrum], sixteen_bit=spectrum == "fir" and index % 3 == 0)
            on_disk = layout.image_path(written, layout.CONVERTED_IMAGES, spectrum, sample_id)
            assert (tmp_path / f"{spectrum}.png").read_bytes() == on_disk.read_bytes(), (index, spectrum)
        boxes = read_voc(layout.annotation_path(written, layout.CONVERTED_ANNOTATIONS, sample_id), layout.CLASS_NAMES).boxes
        check_scene(scene, scene_path(written, sample_id), layout.CONVERTED_SIZE_WH, boxes)
        for target, obj in enumerate(drawn.objects):  # hidden parts kept their whole masks
            for part in obj.parts:
                change = Change("part", target, part.name)
                assert all(np.array_equal(a, b) for a, b in zip(render(scene, change).values(), render(drawn, change).values()))


def test_the_real_dataset_has_no_descriptions_and_reading_one_gives_none(tmp_path):
    assert read_scene(tmp_path, "000001") is None


def test_the_same_scene_writes_the_same_bytes(tmp_path):
    scene = written_scene(4, 1)
    first, second = write_scene(tmp_path / "a", "000001", scene), write_scene(tmp_path / "b", "000001", scene)
    assert first.read_bytes() == second.read_bytes()
    masks = [p.with_name("000001_masks.png").read_bytes() for p in (first, second)]
    assert masks[0] == masks[1]


def test_a_broken_description_or_masks_of_another_size_name_the_file(tmp_path):
    scene = written_scene(4, 1)
    path = write_scene(tmp_path, "000001", scene)
    masks = path.with_name("000001_masks.png")
    cv2.imwrite(str(masks), np.zeros((10, 10), np.uint16))
    with pytest.raises(DatasetError, match=f"{masks}: masks of 000001.json must be a 16-bit image"):
        read_scene(tmp_path, "000001")
    path.write_text("{not json")
    with pytest.raises(DatasetError, match=f"{path}: not a scene description"):
        read_scene(tmp_path, "000001")
    description = json.loads(write_scene(tmp_path, "000001", scene).read_text())
    assert set(description) >= {"size", "night", "objects", "noise_state"} and (tmp_path / SCENES).is_dir()


def test_a_description_that_does_not_fit_its_images_or_annotations_is_refused(tmp_path):
    scene = written_scene(4, 1)
    boxes = np.asarray([o.box for o in scene.objects], np.float32)
    path = scene_path(tmp_path, "000001")
    check_scene(scene, path, layout.CONVERTED_SIZE_WH, boxes)
    with pytest.raises(DatasetError, match=f"{path}: a scene of 320 x 256 pixels for images of 640 x 512"):
        check_scene(scene, path, (640, 512), boxes)
    with pytest.raises(DatasetError, match=f"{path}: describes {len(boxes)} objects"):
        check_scene(scene, path, layout.CONVERTED_SIZE_WH, boxes[:-1])
    assert set(SPECTRA) == set(render(scene))
