import numpy as np
import torch

from spectral_xai.data_modules.dataset import MultispectralDetectionDataset
from spectral_xai.data_modules.datamodule import MultispectralDataModule
from spectral_xai.data_modules.reader import SampleRecord
from spectral_xai.data_modules.transforms import build_transform


def test_boxes_stay_aligned_across_stacked_spectra_through_augmentation(tmp_path):
    """Each spectrum holds one bright object at the annotated box; after random flips, scaling and
    shifts, every spectrum's bright region must still coincide with the transformed box."""
    import cv2

    box = np.array([[60.0, 40.0, 140.0, 120.0]], np.float32)
    paths = {}
    for spectrum, value in (("rgb", 255), ("mir", 200)):
        image = np.zeros((160, 200), np.uint8)
        image[40:120, 60:140] = value
        paths[spectrum] = tmp_path / f"{spectrum}.png"
        cv2.imwrite(str(paths[spectrum]), image)
    record = SampleRecord("000000", paths, box, np.array([4]), (200, 160))
    transform = build_transform(128, 6, [0.0] * 6, [1.0] * 6, train=True)
    dataset = MultispectralDetectionDataset([record], ["rgb", "mir"], "early", transform)
    checked = 0
    for _ in range(20):
        sample = dataset[0]
        assert sample["image"].shape == (6, 128, 128)
        if len(sample["boxes"]) == 0:  # cropped out by a shift: nothing to align
            continue
        checked += 1
        x1, y1, x2, y2 = sample["boxes"][0].round().int().tolist()
        for group in (sample["image"][:3], sample["image"][3:]):
            ys, xs = torch.nonzero(group.mean(0) > 0.3, as_tuple=True)
            found = (xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1)
            assert max(abs(a - b) for a, b in zip(found, (x1, y1, x2, y2))) <= 2
    assert checked >= 10, f"only {checked} of 20 draws kept the box: the test checked too little"


def test_fusion_modes_shape_the_samples(synthetic_root):
    mixed = MultispectralDataModule(str(synthetic_root), ["rgb", "mir"], "mixed", image_size=128, val_fraction=0.2, num_workers=0)
    early = MultispectralDataModule(str(synthetic_root), ["rgb", "mir"], "early", image_size=128, val_fraction=0.2, num_workers=0)
    single = MultispectralDataModule(str(synthetic_root), ["fir"], image_size=128, val_fraction=0.2, num_workers=0)
    for dm in (mixed, early, single):
        dm.setup("fit")
    n_train = len(early.datasets["train"])
    assert len(mixed.datasets["train"]) == 2 * n_train and len(single.datasets["train"]) == n_train
    assert mixed.in_chans == 3 and early.in_chans == 6
    batch = next(iter(mixed.train_dataloader()))
    assert batch["image"].shape[1:] == (3, 128, 128)
    assert set(mixed.datasets["train"][i]["spectrum"] for i in range(2)) == {"rgb", "mir"}
    assert early.datasets["train"][0]["image"].shape == (6, 128, 128)
    assert early.datasets["train"][0]["spectrum"] == "rgb+mir"
    # The same ids land in the same split whatever the fusion mode.
    assert mixed.datasets["test"].sample_ids == early.datasets["test"].sample_ids
    # A scene is every spectrum of it: two items in the mixed dataset, one in the stacked one.
    scenes = mixed.datasets["test"].sample_ids[:2] + ["not-a-scene"]
    items = [mixed.datasets["test"].items[i] for i in mixed.datasets["test"].indices_of(scenes)]
    assert sorted((r.sample_id, spectra) for r, spectra in items) == sorted(
        (i, (s,)) for i in scenes[:2] for s in ("rgb", "mir"))
    assert len(early.datasets["test"].indices_of(scenes)) == 2


def test_eval_samples_are_deterministic_and_labels_are_classes(synthetic_root):
    dm = MultispectralDataModule(str(synthetic_root), ["rgb"], image_size=128, num_workers=0)
    dm.setup("test")
    a, b = dm.datasets["test"][0], dm.datasets["test"][0]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["boxes"], b["boxes"])
    assert a["labels"].dtype == torch.int64 and int(a["labels"].max()) < 5
    assert float(a["boxes"].max()) <= 128


def test_synthetic_dataset_is_written_on_first_use(tmp_path):
    dm = MultispectralDataModule(str(tmp_path / "fresh"), image_size=128, synthetic={"num_scenes": 10, "seed": 0}, num_workers=0)
    dm.prepare_data()
    dm.setup("fit")
    assert sum(len(d.records) for d in dm.datasets.values()) == 10


def test_augmentations_follow_the_run_seed_and_differ_between_workers_and_ranks(synthetic_root):
    """One scene repeated 8 times through a 2-worker loader: worker 0 draws for items 0, 2, 4, 6 and
    worker 1 for 1, 3, 5, 7, so without a seed of their own the two would transform each pair alike.
    The same torch seed gives the same batches; another rank gets other draws."""
    from pytorch_lightning import seed_everything

    def batches(rank: int = 0) -> list[torch.Tensor]:
        seed_everything(0, verbose=False)
        datamodule = MultispectralDataModule(str(synthetic_root), spectra=["mir"], image_size=128, batch_size=1,
                                             num_workers=2)
        datamodule.setup("fit")
        train = datamodule.datasets["train"]
        train.items = [train.items[0]] * 8
        loader = datamodule._loader("train", shuffle=False)
        loader.worker_init_fn.keywords["rank"] = rank
        return [batch["image"][0] for batch in loader]

    first = batches()
    assert not all(torch.equal(first[i], first[i + 1]) for i in range(0, 8, 2)), "the workers repeat each other's draws"
    assert all(torch.equal(a, b) for a, b in zip(first, batches())), "the same seed gave other augmentations"
    assert not all(torch.equal(a, b) for a, b in zip(first, batches(rank=1))), "two ranks draw alike"


def test_the_main_process_augments_by_the_run_seed(synthetic_root):
    from pytorch_lightning import seed_everything

    def draws(seed: int) -> list[torch.Tensor]:
        seed_everything(seed, verbose=False)
        datamodule = MultispectralDataModule(str(synthetic_root), spectra=["mir"], image_size=128, num_workers=0)
        datamodule.setup("fit")
        return [datamodule.datasets["train"][0]["image"] for _ in range(6)]

    zero = draws(0)
    assert all(torch.equal(a, b) for a, b in zip(zero, draws(0)))
    assert not all(torch.equal(a, b) for a, b in zip(zero, draws(1)))
