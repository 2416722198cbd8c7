"""Runs of consecutive frames: found from ids or a sequences.csv, kept whole by the blocked split,
written by the synthetic writer as one scene moving under new noise."""
import numpy as np
import pytest

from spectral_xai.data_modules import layout
from spectral_xai.data_modules.images import read_image
from spectral_xai.data_modules.reader import DatasetError, split_ids
from spectral_xai.data_modules.sequences import Sequences
from spectral_xai.data_modules.synthetic import write_synthetic_dataset, written_scene


def test_runs_are_found_from_gaps_in_ids_cut_to_a_length_or_read_from_a_file(tmp_path):
    ids = ["000001", "000002", "000004", "000005", "000006", "000010"]
    assert Sequences().of(ids) == {"000001": "000001", "000002": "000001", "000004": "000004", "000005": "000004",
                                   "000006": "000004", "000010": "000010"}
    assert set(Sequences(gap=2).of(ids).values()) == {"000001", "000010"}
    assert Sequences(length=2).of(ids)["000006"] == "000006"
    (tmp_path / "sequences.csv").write_text("sample_id,sequence\n000001,night drive\n000002,night drive\n")
    assert Sequences(file=str(tmp_path / "sequences.csv")).of(["000001", "000002"]) == {"000001": "night drive",
                                                                                      "000002": "night drive"}
    with pytest.raises(DatasetError, match="sequences.csv: 1 id.*000003"):
        Sequences(file=str(tmp_path / "sequences.csv")).of(["000001", "000003"])
    with pytest.raises(DatasetError, match="'left_07' is not a frame number"):
        Sequences().of(["left_07"])


def test_the_blocked_split_keeps_every_run_whole_where_the_random_one_cuts_them(tmp_path):
    ids = [f"{i:06d}" for i in range(200)]
    runs = Sequences(length=5).of(ids)
    blocked = split_ids(tmp_path, ids, "blocked", 0.2, 0.1, 0, sequences=Sequences(length=5))
    part_of = {i: name for name, part in blocked.items() for i in part}
    assert sorted(part_of) == ids
    assert all(len({part_of[i] for i in ids if runs[i] == run}) == 1 for run in set(runs.values()))
    assert 35 <= len(blocked["test"]) <= 45 and blocked == split_ids(tmp_path, ids, "blocked", 0.2, 0.1, 0,
                                                                     sequences=Sequences(length=5))
    shuffled = split_ids(tmp_path, ids, "random", 0.2, 0.1, 0)
    part_of = {i: name for name, part in shuffled.items() for i in part}
    assert sum(len({part_of[i] for i in ids if runs[i] == run}) > 1 for run in set(runs.values())) > 20


def test_the_writer_writes_runs_of_one_scene_moving_under_new_noise(tmp_path):
    root = write_synthetic_dataset(tmp_path / "seq", num_scenes=6, seed=1, frames_per_sequence=3)
    first, second, other = (written_scene(1, i, frames_per_sequence=3) for i in (0, 1, 3))
    assert [o.name for o in first.objects] == [o.name for o in second.objects]
    assert any(a.box != b.box for a, b in zip(first.objects, second.objects))  # moved
    assert all(abs(a.box[0] - b.box[0]) <= 3 for a, b in zip(first.objects, second.objects))  # a little
    image = lambda i: read_image(layout.image_path(root, layout.CONVERTED_IMAGES, "mir", f"{i:06d}")).astype(float)
    near, far = np.abs(image(0) - image(1)).mean(), np.abs(image(0) - image(3)).mean()
    assert 0 < near < far
    assert [o.name for o in other.objects] != [o.name for o in first.objects] or other.night != first.night \
        or other.objects[0].box != first.objects[0].box
