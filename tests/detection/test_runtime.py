"""Forward-only passes on ONNX Runtime give torch's answers: the raw net's outputs to 1e-4 at any
batch size, on the shared trained net and on the region detector; the export is cached by content
and redone when weights change; what cannot run there (a hooked net, an odd net) runs in torch."""
import copy
import logging

import pytest
import torch
from torch import nn

from spectral_xai.checkpoint import load_checkpoint
from spectral_xai.detection import runtime
from spectral_xai.detection.runtime import resolve_runtime
from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.settings import SettingsError

from ..helpers.region_detector import RegionNet, region_detector

TOLERANCE = 1e-4


@pytest.fixture
def exports(tmp_path, monkeypatch, caplog):
    """A cache folder of the test's own, and the names of the files exported into it."""
    monkeypatch.setenv("SPECTRAL_XAI_CACHE", str(tmp_path / "cache"))
    caplog.set_level(logging.INFO, logger=runtime.__name__)
    return lambda: [r.message for r in caplog.records if r.message.startswith("exported the net")]


def _flat(raw) -> list[torch.Tensor]:
    return [*raw[0], *raw[1]]


def _largest_difference(ours, theirs) -> float:
    return max(float((a - b).abs().max()) for a, b in zip(_flat(ours), _flat(theirs)))


def test_the_shared_nets_outputs_equal_eagers_at_every_batch_size(trained_checkpoint, exports):
    module, _ = load_checkpoint(trained_checkpoint)
    eager = module.detector()
    on_runtime = module.detector().use_runtime("onnxruntime")
    generator = torch.Generator().manual_seed(0)
    for n in (1, 3, 8):
        images = torch.rand(n, 3, 128, 128, generator=generator)
        assert _largest_difference(on_runtime.passes(images), eager.passes(images)) < TOLERANCE
    assert len(exports()) == 1  # one export, whatever the batch size
    # A second detector of the same weights (a checkpoint explained again) reads the cached file.
    again = module.detector().use_runtime("onnxruntime")
    assert _largest_difference(again.passes(images), eager.passes(images)) < TOLERANCE and len(exports()) == 1


def test_weights_changed_in_place_or_in_a_copy_are_exported_anew(exports):
    detector = region_detector().use_runtime("onnxruntime")
    images = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    before = detector.passes(images)
    assert _largest_difference(before, detector.raw(images)) < TOLERANCE
    changed = copy.deepcopy(detector)  # the sanity check's randomised copies
    changed.net.tiles.mul_(0.5)
    assert _largest_difference(changed.passes(images), changed.raw(images)) < TOLERANCE
    assert _largest_difference(changed.passes(images), before) > 1e-2
    detector.net.tiles.mul_(2.0)  # in place, the same net
    assert _largest_difference(detector.passes(images), detector.raw(images)) < TOLERANCE
    # Assigned anew (a new tensor whose version counter starts again), after passes that listed
    # the net's modules once.
    detector.net.tiles = detector.net.tiles * 0.3
    assert _largest_difference(detector.passes(images), detector.raw(images)) < TOLERANCE
    assert len(exports()) == 4


def test_a_hooked_net_runs_in_torch_so_that_its_hooks_see_the_pass(exports):
    """A method that reads activations during a pass (a forward hook) gets them: such a pass runs in torch."""
    detector = region_detector().use_runtime("onnxruntime")
    seen = []
    handle = detector.net.class_net.register_forward_hook(lambda module, args, out: seen.append(out.shape[0]))
    try:
        detector.passes(torch.rand(5, 3, 64, 64))
    finally:
        handle.remove()
    assert seen == [5] and exports() == []


class OddNet(RegionNet):
    """A user's detector with an operator ONNX has no translation for (``cummax``)."""

    def forward(self, x: torch.Tensor):
        class_out, box_out = super().forward(x)
        return [class_out[0] + 0 * torch.cummax(class_out[0], dim=-1)[0]], box_out


def test_a_net_that_cannot_be_exported_runs_in_torch_with_one_warning(exports, caplog):
    detector = region_detector()
    detector.net = OddNet().eval()
    detector.use_runtime("onnxruntime")
    images = torch.rand(3, 3, 64, 64)
    with caplog.at_level(logging.WARNING):
        first, second = detector.passes(images), detector.passes(images)
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot be exported to ONNX (UnsupportedOperatorError" in warnings[0], warnings
    assert "cummax" in warnings[0] and warnings[0].endswith("the perturbation passes run in torch")
    assert torch.equal(first[0][0], detector.raw(images)[0][0]) and detector.onnx is None


def test_auto_is_the_runtime_on_a_cpu_and_torch_where_torch_serves_better():
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert resolve_runtime("auto", cpu) == "onnxruntime"
    assert resolve_runtime("auto", gpu) == "torch"
    assert resolve_runtime("auto", cpu, precision="bf16-mixed") == "torch"
    assert resolve_runtime("auto", cpu, compile=True) == "torch"
    assert resolve_runtime("torch", cpu) == "torch"
    with pytest.raises(SettingsError, match="runtime onnxruntime runs full-precision, uncompiled passes"):
        ExplainSettings(runtime="onnxruntime", compile=True)
    with pytest.raises(SettingsError, match="runtime 'tensorrt'"):
        ExplainSettings(runtime="tensorrt")


def test_old_exports_are_removed_past_the_kept_count(exports, monkeypatch):
    monkeypatch.setattr(runtime, "KEPT_FILES", 2)
    detector = region_detector().use_runtime("onnxruntime")
    for _ in range(3):
        detector.net.tiles.mul_(0.9)
        detector.passes(torch.rand(2, 3, 64, 64))
    assert len(exports()) == 3 and len(list(runtime.runtime_cache().glob("*.onnx"))) == 2


def test_a_net_in_training_mode_runs_in_torch(exports):
    detector = region_detector().use_runtime("onnxruntime")
    detector.net.train()
    detector.passes(torch.rand(2, 3, 64, 64))
    assert exports() == []


def test_a_plain_module_is_hashed_by_every_weight():
    one, other = nn.Linear(3, 2), nn.Linear(3, 2)
    other.load_state_dict(one.state_dict())
    assert runtime.export_key(one, (3,)) == runtime.export_key(other, (3,))
    with torch.no_grad():
        other.bias[0] += 1e-6
    assert runtime.export_key(one, (3,)) != runtime.export_key(other, (3,))
    assert runtime.export_key(one, (3,)) != runtime.export_key(one, (4,))


def test_nets_of_equal_weights_and_another_forward_do_not_share_an_export():
    plain, odd = RegionNet().eval(), OddNet().eval()
    assert runtime.export_key(plain, (3, 64, 64)) != runtime.export_key(odd, (3, 64, 64))


@pytest.mark.slow
def test_maps_and_aucs_on_the_runtime_equal_torchs_on_the_shared_net(trained_checkpoint):
    """Every forward-only pass of a whole explanation (RISE's, D-RISE's, SIDU's and Score-CAM's
    masked images) on ONNX Runtime gives each map at Pearson r >= 0.9999 to torch's (a blank map:
    equal to 1e-6), on the test scenes' best detections; D-RISE is RISE under the ``drise`` rule.
    The insertion and deletion curves of one map, run on either, give AUCs equal to 1e-4 (the two
    runs' own AUCs may differ by more: maps equal to r 0.9999 still order near-equal pixels
    differently, and the curves delete in that order)."""
    from spectral_xai import explain
    from spectral_xai.detection import DetectionScorer, MatchedScore
    from spectral_xai.metrics import insertion_deletion
    module, data = load_checkpoint(trained_checkpoint)
    runs = {"paper's rule": {"methods": ["rise", "sidu", "scorecam"]},
            "drise": {"methods": ["rise"], "scoring": {"rule": "drise"}}}
    pairs = []
    for settings in runs.values():
        settings = {**settings, "baselines": False, "step": 0.1, "method_settings": {"rise": {"n_masks": 200}}}
        torch_run, runtime_run = (explain((module, data), num_images=2, runtime=runtime_, **settings)
                                  for runtime_ in ("torch", "onnxruntime"))
        pairs += [(a, b, image_a.explanation.image) for image_a, image_b in zip(torch_run, runtime_run)
                  for a, b in zip(image_a.results, image_b.results)]
    assert len(pairs) >= 8 and all(a.method == b.method and a.ok and b.ok for a, b, _ in pairs)
    for torch_result, runtime_result, _ in pairs:
        ours, theirs = runtime_result.saliency.flatten(), torch_result.saliency.flatten()
        if theirs.max() == theirs.min():
            assert float((ours - theirs).abs().max()) < 1e-6, torch_result.method
        else:
            assert float(torch.corrcoef(torch.stack([ours, theirs]))[0, 1]) >= 0.9999, torch_result.method
    scorers = {name: DetectionScorer(module.detector().use_runtime(name), MatchedScore()) for name in ("torch", "onnxruntime")}
    for result, _, image in pairs[:4]:
        curves = {name: insertion_deletion(scorer, image, result.saliency, result.target, step=0.05)
                  for name, scorer in scorers.items()}
        for ours, theirs in zip(curves["onnxruntime"], curves["torch"]):
            assert abs(ours.auc - theirs.auc) < TOLERANCE and float((ours.scores - theirs.scores).abs().max()) < TOLERANCE


def test_a_chunk_over_the_pixels_of_one_run_is_run_in_pieces_with_the_same_outputs(exports, monkeypatch):
    monkeypatch.setattr(runtime, "PIXELS_PER_RUN", 2 * 64 * 64)  # two images a run
    detector = region_detector().use_runtime("onnxruntime")
    images = torch.rand(5, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    ours = detector.passes(images)
    assert [o.shape[0] for o in _flat(ours)] == [5, 5]
    assert _largest_difference(ours, detector.raw(images)) < TOLERANCE


def test_a_cache_folder_that_cannot_take_the_export_leaves_the_passes_in_torch(exports, tmp_path, monkeypatch, caplog):
    """A runtime folder that is a file (as a folder of another user's would refuse the lock): one warning, torch."""
    cache = tmp_path / "blocked"
    cache.mkdir()
    (cache / "runtime").write_text("")
    monkeypatch.setenv("SPECTRAL_XAI_CACHE", str(cache))
    runtime.forget_sessions()  # an earlier test's session of the same net would serve it from memory
    detector = region_detector().use_runtime("onnxruntime")
    images = torch.rand(2, 3, 64, 64)
    with caplog.at_level(logging.WARNING):
        ours = detector.passes(images)
    assert torch.equal(ours[0][0], detector.raw(images)[0][0]) and detector.onnx is None
    assert "cannot be kept in the cache folder" in caplog.text
