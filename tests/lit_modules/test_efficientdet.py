import pytest
import torch
from timm.layers import BatchNormAct2d, SyncBatchNormAct

from spectral_xai.data_modules.datamodule import MultispectralDataModule
from spectral_xai.data_modules.layout import CLASS_NAMES
from spectral_xai.detection import Detections
from spectral_xai.lit_modules import EfficientDetModule, TimmSyncBatchNorm
from spectral_xai.lit_modules.detector import PretrainedWeightsUnavailable, build_efficientdet
from spectral_xai.lit_modules.efficientdet import detections_to_preds, effdet_targets


def test_targets_are_effdet_yxyx_one_based_and_padded():
    boxes = [torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.zeros((0, 4))]
    labels = [torch.tensor([0]), torch.zeros(0, dtype=torch.int64)]
    t = effdet_targets(boxes, labels, 128)
    assert torch.equal(t["bbox"][0, 0], torch.tensor([2.0, 1.0, 4.0, 3.0]))
    assert t["cls"][0, 0] == 1 and torch.all(t["cls"][1] == -1) and torch.all(t["bbox"][1] == -1)
    assert t["img_size"].tolist() == [[128, 128], [128, 128]]


def test_detections_drop_padding_and_keep_zero_based_labels():
    det = Detections(boxes=torch.tensor([[[0.0, 0, 5, 5], [0, 0, 0, 0]]]), scores=torch.tensor([[0.9, 0.0]]),
                     labels=torch.tensor([[2, -1]]), class_probs=torch.zeros(1, 2, 5), anchors=torch.tensor([[7, -1]]))
    (pred,) = detections_to_preds(det)
    assert pred["labels"].tolist() == [2] and pred["scores"].tolist() == [pytest.approx(0.9)]
    assert pred["boxes"].tolist() == [[0, 0, 5, 5]]


@pytest.mark.parametrize("spectra, fusion", [(["nir"], "mixed"), (["rgb", "mir"], "mixed"), (["rgb", "mir"], "early")])
def test_one_training_step_per_fusion_mode_lowers_nothing_to_nan_and_moves_weights(synthetic_root, spectra, fusion):
    torch.manual_seed(0)
    dm = MultispectralDataModule(str(synthetic_root), spectra, fusion, image_size=128, batch_size=2, num_workers=0)
    dm.setup("fit")
    module = EfficientDetModule(CLASS_NAMES, image_size=128, in_chans=dm.in_chans)
    optimizer = module.configure_optimizers()
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape[1] == dm.in_chans
    stem = module.net.backbone.conv_stem.weight
    assert stem.shape[1] == dm.in_chans
    before = stem.detach().clone()
    loss = module.training_step(batch, 0)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    optimizer.step()
    assert not torch.equal(before, stem.detach())


def test_validation_detections_are_effdets_own_evaluation_output(synthetic_root):
    """mAP is computed from the one decoder; it must see exactly what effdet's bench evaluates."""
    torch.manual_seed(0)
    dm = MultispectralDataModule(str(synthetic_root), ["rgb"], image_size=128, batch_size=3, num_workers=0)
    dm.setup("fit")
    module = EfficientDetModule(CLASS_NAMES, image_size=128).eval()
    batch = next(iter(dm.val_dataloader()))
    with torch.no_grad():
        out, raw = module._loss(module.eval_net, batch)
        ours = detections_to_preds(module.detector().decode(raw))
        bench = module.bench(batch["image"], effdet_targets(batch["boxes"], batch["labels"], 128))
    assert torch.equal(out["loss"], bench["loss"])
    for pred, det in zip(ours, bench["detections"]):
        det = det[det[:, 4] > 0]
        assert torch.equal(pred["boxes"], det[:, :4]) and torch.equal(pred["scores"], det[:, 4])
        assert torch.equal(pred["labels"], det[:, 5].long() - 1)


def test_pretrained_offline_fails_with_a_clear_message(monkeypatch, tmp_path):
    # Forces the offline case even where a network exists: an empty hub cache and an unreachable
    # proxy (a closed port on this machine's loopback).
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    with pytest.raises(PretrainedWeightsUnavailable, match="pretrained: false to train from scratch"):
        build_efficientdet("tf_efficientdet_d0", 5, 128, pretrained=True)


def test_sync_batchnorm_plugin_keeps_timm_activations_and_reverts():
    model = build_efficientdet("tf_efficientdet_d0", 5, 128)
    originals = [m for m in model.modules() if isinstance(m, BatchNormAct2d)]
    assert len(originals) == 48
    acts = [type(m.act) for m in originals]
    converted = TimmSyncBatchNorm().apply(model)
    synced = [m for m in converted.modules() if isinstance(m, SyncBatchNormAct)]
    assert [type(m.act) for m in synced] == acts
    assert sum(isinstance(m.act, torch.nn.SiLU) for m in synced) == sum(a is torch.nn.SiLU for a in acts) > 0
    assert not any(type(m) is torch.nn.BatchNorm2d for m in converted.modules())
    reverted = TimmSyncBatchNorm().revert(converted)
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in reverted.modules())
    restored = [m for m in reverted.modules() if isinstance(m, BatchNormAct2d)]
    assert [type(m.act) for m in restored] == acts
    # The reverted net computes what the original did.
    fresh = build_efficientdet("tf_efficientdet_d0", 5, 128)
    fresh.load_state_dict(reverted.state_dict())
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.allclose(fresh.eval()(x)[0][0], reverted.eval()(x)[0][0])


def test_channels_last_trains_the_same_step_in_its_own_layout(synthetic_root, tmp_path):
    """``channels_last`` keeps every conv weight (and the weight average) in that layout through an
    optimiser step, computes the default layout's loss to float precision, and its checkpoint loads
    into a module of either layout with the same outputs."""
    dm = MultispectralDataModule(str(synthetic_root), ["rgb"], image_size=128, batch_size=2, num_workers=0)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    torch.manual_seed(0)
    plain = EfficientDetModule(CLASS_NAMES, image_size=128, ema_decay=0.9)
    torch.manual_seed(0)
    fast = EfficientDetModule(CLASS_NAMES, image_size=128, ema_decay=0.9, channels_last=True)
    convs = [p for p in [*fast.net.parameters(), *fast.ema.module.parameters()] if p.dim() == 4]
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    losses = []
    for module in (plain, fast):  # the backbone's stochastic depth draws from the global generator
        torch.manual_seed(1)
        losses.append(module.training_step(batch, 0))
    assert torch.allclose(*losses, rtol=1e-5)
    optimizer = fast.configure_optimizers()
    fast.training_step(batch, 0).backward()
    optimizer.step()
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    torch.save(fast.state_dict(), tmp_path / "weights.pt")
    plain.load_state_dict(torch.load(tmp_path / "weights.pt"))
    images = batch["image"]
    with torch.no_grad():
        ours, theirs = fast.eval().eval_net(images.contiguous(memory_format=torch.channels_last)), plain.eval().eval_net(images)
    for a, b in zip([*ours[0], *ours[1]], [*theirs[0], *theirs[1]]):
        assert torch.allclose(a, b, atol=1e-4)
