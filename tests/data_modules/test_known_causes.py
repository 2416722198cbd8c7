"""A rendered sample's causes: its scene rendered without a change is the dataset's own input to the
last bit, and each cause rendered away changes the input where that cause shows."""
import shutil

import numpy as np
import pytest
import torch

from spectral_xai.data_modules import layout
from spectral_xai.data_modules.dataset import MultispectralDetectionDataset
from spectral_xai.data_modules.reader import index_dataset
from spectral_xai.data_modules.synthetic import write_synthetic_dataset
from spectral_xai.data_modules.transforms import build_transform


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = write_synthetic_dataset(tmp_path_factory.mktemp("causes"), num_scenes=6, seed=1, sixteen_bit_fir_every=2)
    made = {}
    for spectra, fusion in ((["fir"], "mixed"), (["rgb", "mir"], "early")):
        records = index_dataset(root, spectra).records
        transform = build_transform(96, 3 * (len(spectra) if fusion == "early" else 1), [0.4] * 6, [0.25] * 6, train=False)
        made[fusion] = MultispectralDetectionDataset(records, spectra, fusion, transform)
    return root, made


@pytest.mark.parametrize("fusion", ["mixed", "early"])
def test_the_scene_rendered_without_a_change_is_the_datasets_input_exactly(datasets, fusion):
    _, made = datasets
    for index in range(len(made[fusion])):
        sample = made[fusion][index]
        assert torch.equal(sample["causes"].inputs([None])[0], sample["image"])


def test_each_cause_rendered_away_changes_the_input_where_it_shows(datasets):
    _, made = datasets
    sample = next(s for s in (made["early"][i] for i in range(6)) if len(s["causes"].scene.objects) >= 2)
    causes = sample["causes"].causes(0)
    kinds = [c.kind for c in causes if c.kind != "spectrum"]  # an early-fused input adds its spectra's own
    assert kinds.count("object") == len(sample["causes"].scene.objects) - 1 and kinds[-1] == "context"
    inputs = sample["causes"].inputs([c.change for c in causes])
    masks = sample["causes"].masks(causes, tuple(sample["image"].shape[-2:]))
    for cause, changed, mask in zip(causes, inputs, masks):
        moved = (changed - sample["image"]).abs().amax(dim=0) > 1e-6
        if cause.visible.any():
            assert moved[mask > 0.5].float().mean() > 0.5, cause.name
    assert masks.shape == (len(causes), 96, 96) and float(masks.max()) <= 1.0


def test_the_real_dataset_has_no_causes(tmp_path, datasets):
    root, made = datasets
    real = shutil.copytree(root, tmp_path / "real")
    shutil.rmtree(real / layout.SCENES)
    records = index_dataset(real, ["fir"]).records
    plain = MultispectralDetectionDataset(records, ["fir"], "mixed", made["mixed"].transform)
    assert "causes" not in plain[0] and all(r.scene is None for r in records)
    assert np.array_equal(plain[0]["image"].numpy(), made["mixed"][0]["image"].numpy())


def test_a_fused_inputs_object_and_cue_rendered_away_in_one_spectrum_change_only_its_channels(tmp_path):
    root = write_synthetic_dataset(tmp_path, num_scenes=6, seed=2, known_cause=True)
    spectra = ["rgb", "mir"]
    transform = build_transform(96, 6, [0.4] * 6, [0.25] * 6, train=False)
    dataset = MultispectralDetectionDataset(index_dataset(root, spectra).records, spectra, "early", transform)
    found = [(sample, k) for sample in (dataset[i] for i in range(len(dataset)))
             for k, obj in enumerate(sample["causes"].scene.objects) if obj.running]
    assert found, "the known-cause data has running cars"
    sample, obj = found[0]
    causes = {c.name: c for c in sample["causes"].causes(obj)}
    assert [n for n in causes if causes[n].kind == "spectrum"] == ["object in rgb", "object in mir", "cue in rgb", "cue in mir"]
    names = ["object in rgb", "object in mir", "cue in rgb", "cue in mir"]
    inputs = sample["causes"].inputs([causes[n].change for n in names])
    for name, changed in zip(names, inputs):
        moved = (changed - sample["image"]).abs().flatten(1).amax(dim=1) > 1e-6  # per channel
        own = slice(0, 3) if name.endswith("rgb") else slice(3, 6)
        other = slice(3, 6) if name.endswith("rgb") else slice(0, 3)
        assert moved[own].all() and not moved[other].any(), name
