import json
import logging
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from spectral_xai.data_modules import layout
from spectral_xai.data_modules.reader import DatasetError, index_dataset, read_split_file, split_ids
from spectral_xai.data_modules.voc import read_voc

ANN = layout.CONVERTED_ANNOTATIONS


def _xml(root, sample_id):
    return root / ANN / f"{sample_id}.xml"


def _first_object(root, sample_id):
    tree = ET.parse(_xml(root, sample_id))
    return tree, tree.getroot().find("object")


def test_generated_dataset_is_read_whole_with_written_boxes(synthetic_root):
    index = index_dataset(synthetic_root, ["rgb", "nir", "mir", "fir"])
    records, report = index.records, index.report
    assert len(records) == 24
    assert not report.skipped and not report.repaired
    first = records[0]
    written = read_voc(_xml(synthetic_root, first.sample_id), layout.CLASS_NAMES)
    np.testing.assert_array_equal(first.boxes, written.boxes)
    assert first.size_wh == layout.CONVERTED_SIZE_WH
    assert set(first.paths) == {"rgb", "nir", "mir", "fir"}


def test_unparseable_xml_is_skipped_counted_and_named(dataset_copy, caplog):
    _xml(dataset_copy, "000003").write_text("<annotation><object><name>car</name>")
    with caplog.at_level(logging.WARNING):
        index = index_dataset(dataset_copy, ["rgb"])
        records, report = index.records, index.report
    assert report.skipped["bad_annotation"] == 1
    assert len(records) == 23 and "000003" not in {r.sample_id for r in records}
    assert "000003.xml: not valid XML" in caplog.text


def test_non_numeric_coordinate_is_skipped_with_the_tag_named(dataset_copy, caplog):
    tree, obj = _first_object(dataset_copy, "000004")
    obj.find("bndbox/xmin").text = "twelve"
    tree.write(_xml(dataset_copy, "000004"))
    with caplog.at_level(logging.WARNING):
        report = index_dataset(dataset_copy, ["rgb"]).report
    assert report.skipped["bad_annotation"] == 1
    assert "<xmin> is 'twelve'" in caplog.text


def test_swapped_corners_are_reordered_and_counted(dataset_copy):
    tree, obj = _first_object(dataset_copy, "000005")
    box = obj.find("bndbox")
    x1, x2 = box.find("xmin").text, box.find("xmax").text
    box.find("xmin").text, box.find("xmax").text = x2, x1
    tree.write(_xml(dataset_copy, "000005"))
    index = index_dataset(dataset_copy, ["rgb"])
    records, report = index.records, index.report
    assert report.repaired["box_reordered"] == 1
    record = next(r for r in records if r.sample_id == "000005")
    assert record.boxes[0, 0] == float(x1) and record.boxes[0, 2] == float(x2)


def test_unknown_class_name_drops_that_box_only(dataset_copy):
    before = read_voc(_xml(dataset_copy, "000006"), layout.CLASS_NAMES)
    tree, obj = _first_object(dataset_copy, "000006")
    obj.find("name").text = "truck"
    tree.write(_xml(dataset_copy, "000006"))
    index = index_dataset(dataset_copy, ["rgb"])
    records, report = index.records, index.report
    assert report.repaired["unknown_class:truck"] == 1
    record = next(r for r in records if r.sample_id == "000006")
    assert len(record.boxes) == len(before.boxes) - 1


def test_box_outside_the_image_is_dropped_and_counted(dataset_copy):
    tree, obj = _first_object(dataset_copy, "000007")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), (400, 10, 450, 40)):
        obj.find(f"bndbox/{tag}").text = str(value)
    tree.write(_xml(dataset_copy, "000007"))
    report = index_dataset(dataset_copy, ["rgb"]).report
    assert report.repaired["box_empty_after_clipping"] == 1


def test_id_missing_in_one_sensor_is_skipped_only_when_that_sensor_is_asked_for(dataset_copy, caplog):
    (dataset_copy / layout.CONVERTED_IMAGES / "mir" / "000008.png").unlink()
    index = index_dataset(dataset_copy, ["rgb"])
    records, report = index.records, index.report
    assert len(records) == 24 and not report.skipped
    with caplog.at_level(logging.WARNING):
        index = index_dataset(dataset_copy, ["rgb", "mir"])
        records, report = index.records, index.report
    assert len(records) == 23 and report.skipped["missing_image:mir"] == 1
    assert "mir/000008.png" in caplog.text


def test_truncated_png_is_skipped_and_counted(dataset_copy):
    (dataset_copy / layout.CONVERTED_IMAGES / "fir" / "000009.png").write_bytes(b"\x89PNG\r\n")
    index = index_dataset(dataset_copy, ["fir"])
    records, report = index.records, index.report
    assert report.skipped["unreadable_image"] == 1 and len(records) == 23


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda root: shutil.rmtree(root), "dataset root folder not found"),
        (lambda root: shutil.rmtree(root / ANN), "annotation folder not found"),
        (lambda root: [p.unlink() for p in (root / ANN).glob("*.xml")], "no .xml annotation files"),
        (lambda root: shutil.rmtree(root / layout.CONVERTED_IMAGES / "nir"), "image folder for spectrum 'nir'"),
        (lambda root: [p.write_text("<broken") for p in (root / ANN).glob("*.xml")], "no usable samples"),
    ],
    ids=["no-root", "no-annotations", "no-xml", "spectrum-absent", "nothing-usable"],
)
def test_unusable_dataset_raises_naming_the_path(dataset_copy, damage, message):
    damage(dataset_copy)
    with pytest.raises(DatasetError, match=message) as info:
        index_dataset(dataset_copy, ["rgb", "nir"])
    assert str(dataset_copy) in str(info.value)


def test_unknown_spectrum_is_refused(synthetic_root):
    with pytest.raises(DatasetError, match="unknown spectrum 'uv'"):
        index_dataset(synthetic_root, ["uv"])


IDS = [f"{i:06d}" for i in range(100)]


def test_random_split_is_seeded_disjoint_and_one_to_four(tmp_path):
    a = split_ids(tmp_path, IDS, "random", test_fraction=0.2, val_fraction=0.1, seed=3)
    b = split_ids(tmp_path, list(reversed(IDS)), "random", test_fraction=0.2, val_fraction=0.1, seed=3)
    c = split_ids(tmp_path, IDS, "random", test_fraction=0.2, val_fraction=0.1, seed=4)
    assert a == b and a != c
    assert (len(a["test"]), len(a["val"]), len(a["train"])) == (20, 8, 72)
    assert set(a["test"]).isdisjoint(a["train"]) and set(a["val"]).isdisjoint(a["train"])
    assert sorted(a["test"] + a["val"] + a["train"]) == IDS


def test_vis_ok_split_tests_on_the_checked_ids(synthetic_root):
    checked = sorted(p.stem for p in (synthetic_root / layout.VIS_OK).glob("*.png"))
    parts = split_ids(synthetic_root, [f"{i:06d}" for i in range(24)], "vis_ok", 0.2, 0.0, seed=0)
    assert parts["test"] == checked and checked
    assert set(parts["train"]).isdisjoint(checked) and len(parts["train"]) == 24 - len(checked)


def test_empty_split_raises(dataset_copy):
    for png in (dataset_copy / layout.VIS_OK).glob("*.png"):
        png.unlink()
    with pytest.raises(DatasetError, match="leaves no test samples"):
        split_ids(dataset_copy, IDS, "vis_ok", 0.2, 0.1, seed=0)


def test_a_missing_image_keeps_its_scene_in_the_split(dataset_copy):
    """The split is made of annotated ids: one spectrum's missing image does not reshuffle it."""
    whole = index_dataset(dataset_copy, ["nir"])
    layout.image_path(dataset_copy, layout.CONVERTED_IMAGES, "nir", "000003").unlink()
    index = index_dataset(dataset_copy, ["nir"])
    assert index.annotated_ids == whole.annotated_ids and "000003" in index.annotated_ids
    assert "000003" not in {r.sample_id for r in index.records}


def test_split_files_json_and_text_folder(tmp_path):
    json_file = tmp_path / "split.json"
    json_file.write_text(json.dumps({"train": IDS[:60], "val": IDS[60:70], "test": IDS[70:90] + ["999999"]}))
    parts = split_ids(tmp_path, IDS, "file", 0.2, 0.1, seed=0, split_file=json_file)
    assert parts == {"train": IDS[:60], "val": IDS[60:70], "test": IDS[70:90]}  # 999999 has no annotation
    folder = tmp_path / "published"
    folder.mkdir()
    (folder / "train.txt").write_text("\n".join(IDS[:80]) + "\n")
    (folder / "test.txt").write_text("\n".join(IDS[80:]) + "\n")
    parts = split_ids(tmp_path, IDS, "file", 0.2, 0.1, seed=0, split_file=folder)
    assert parts["test"] == IDS[80:] and len(parts["val"]) == 8 and sorted(parts["train"] + parts["val"]) == IDS[:80]


def test_bad_split_files_name_the_file_and_the_problem(tmp_path):
    cases = {"twice.json": ({"train": ["000001"], "test": ["000001"]}, "sample 000001 is in both train and test"),
             "no_test.json": ({"train": ["000001"]}, "lacks its test part"),
             "not_lists.json": ({"train": "000001", "test": []}, "maps train, val and test to lists")}
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(json.dumps(content))
        with pytest.raises(DatasetError, match=f"{name}: .*{message}"):
            read_split_file(tmp_path / name)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(DatasetError, match="broken.json: not a JSON split file"):
        read_split_file(tmp_path / "broken.json")
    with pytest.raises(DatasetError, match="absent.json: split file not found"):
        read_split_file(tmp_path / "absent.json")
    with pytest.raises(DatasetError, match="split 'file' needs split_file"):
        split_ids(tmp_path, IDS, "file", 0.2, 0.1, seed=0)
