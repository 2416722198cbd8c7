"""An EfficientDet trained elsewhere, given as effdet weights and a small YAML description, explains
exactly as the checkpoint its weights came from (the shared trained net, saved the ways effdet's own
scripts save weights)."""
import pytest
import torch
import yaml

from spectral_xai import explain, load_checkpoint
from spectral_xai.checkpoint import CheckpointError
from spectral_xai.effdet_weights import load_effdet
from spectral_xai.explain_cli import main
from spectral_xai.lit_modules import EfficientDetModule

from .helpers.outputs import read_rows

FAST = {"methods": ["gradcam"], "step": 0.25, "target_min_score": 0.0, "baselines": False}


@pytest.fixture(scope="module")
def described(trained_checkpoint, tmp_path_factory):
    """The shared net's weights as a bare state_dict and as effdet's training checkpoint (the bench's
    keys under ``model.``, with its anchors, inside ``state_dict``), each with a description."""
    module, data = load_checkpoint(trained_checkpoint)
    folder = tmp_path_factory.mktemp("elsewhere")
    state = module.net.state_dict()
    torch.save(state, folder / "plain.pth")
    bench = {f"model.{k}": v for k, v in state.items()} | {"anchors.boxes": module.bench.anchors.boxes}
    torch.save({"epoch": 3, "arch": "tf_efficientdet_d0", "state_dict": bench}, folder / "model_best.pth.tar")
    descriptions = {}
    for name, weights in (("plain", "plain.pth"), ("bench", "model_best.pth.tar")):
        descriptions[name] = folder / f"{name}.yaml"
        descriptions[name].write_text(yaml.safe_dump({
            "weights": weights, "model_name": module.hparams.model_name, "class_names": list(data.class_names),
            "image_size": data.hparams.image_size, "anchor_scale": module.hparams.anchor_scale, "spectra": ["mir"], "mean": list(data.hparams.mean),
            "std": list(data.hparams.std)}))
    data.setup("test")
    return module, data, descriptions


@pytest.mark.slow
def test_weights_from_elsewhere_explain_as_the_checkpoint_they_came_from(described, tmp_path, capsys):
    module, data, descriptions = described
    image = data.datasets["test"].records[0].paths["mir"]
    reference = explain((module, data), image, **FAST)[0].results
    assert reference, "the shared net explains its own test scene"
    for description in descriptions.values():
        results = explain(description, image, **FAST)[0].results
        assert [r.method for r in results] == [r.method for r in reference]
        for a, b in zip(results, reference):
            assert torch.equal(a.target.box, b.target.box) and torch.equal(a.saliency, b.saliency)
    output = tmp_path / "out"
    assert main([str(descriptions["bench"]), "--images", str(image), "--output", str(output), "--methods", "gradcam",
                 "--step", "0.25", "--target_min_score", "0.0", "--baselines", "false"]) == 0
    assert {row["model"] for row in read_rows(output / "boxes.csv")} == {"bench"}


def test_a_description_that_does_not_fit_its_weights_names_the_file(tmp_path):
    torch.save(EfficientDetModule(["a", "b", "c"], image_size=128).net.state_dict(), tmp_path / "w.pth")
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump({"weights": "w.pth", "class_names": ["a", "b", "c", "d", "e"],
                                                        "image_size": 128, "spectra": ["mir"]}))
    with pytest.raises(CheckpointError, match=r"w.pth: not the weights of a tf_efficientdet_d0 with 5 classes"):
        load_effdet(tmp_path / "wrong.yaml")
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump({"weights": "w.pth", "class_names": ["a"], "image_sise": 256}))
    with pytest.raises(CheckpointError, match="image_sise.*did you mean 'image_size'"):
        load_effdet(tmp_path / "typo.yaml")
    (tmp_path / "bare.yaml").write_text("weights: w.pth\n")
    with pytest.raises(CheckpointError, match="bare.yaml: a net description names at least its weights and class_names"):
        load_effdet(tmp_path / "bare.yaml")
