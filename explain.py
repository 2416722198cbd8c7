"""Explain the top detection of dataset images with trained checkpoints; write figures, tables, a report.

    python explain.py --checkpoints '[runs/demo/checkpoints/last.ckpt]' --output outputs/explain
    python explain.py --config my_explain.yaml        # the same arguments from a YAML file
    python explain.py --help

By default each checkpoint is evaluated on its own data settings (dataset root, split, spectra) and
the test part of its split; a mixed RGB+MIR net is applied to each spectrum alone.
"""
from __future__ import annotations

from pathlib import Path

from jsonargparse import CLI

from spectral_xai.posthoc import explain_checkpoints


def main(
    checkpoints: list[str],
    output: str = "outputs/explain",
    methods: list[str] = ["gradcam", "rise", "sidu"],  # noqa: B006 (jsonargparse reads the default)
    method_settings: dict[str, dict] | None = None,
    root: str | None = None,
    split: str | None = None,
    part: str = "test",
    spectra: list[str] | None = None,
    num_images: int = 20,
    seed: int = 0,
    step: float = 0.05,
    min_score: float = 0.05,
    batch_size: int = 32,
    device: str = "cpu",
    wandb_project: str | None = None,
) -> None:
    """Explain checkpoints post hoc.

    Args:
        checkpoints: checkpoint files written by train.py.
        output: folder for boxes/, curves/, boxes.csv, summary.csv, summary.json, report.html.
        methods: saliency methods by name (gradcam, gradcam_norelu, rise, sidu).
        method_settings: per method keyword arguments, e.g. {rise: {n_masks: 500}}.
        root: dataset folder; default: the one the checkpoint was trained on.
        split: random or vis_ok; default: the checkpoint's.
        part: which part of the split to explain: test, val or train.
        spectra: spectra to evaluate a per-spectrum or mixed net on; default: its training spectra.
        num_images: images per model x spectrum, a seeded choice.
        seed: seed of that choice.
        step: insertion/deletion step, a share of the image area.
        min_score: images whose top detection scores lower are reported and left out.
        batch_size: images per forward pass of the perturbation methods and the metric.
        device: cpu or cuda.
        wandb_project: also log to this W&B project (offline when no account is configured).
    """
    folder = explain_checkpoints(checkpoints, output, methods, method_settings, root, split, part, spectra,
                                 num_images, seed, step, min_score, batch_size, device, wandb_project)
    print(f"wrote {Path(folder) / 'report.html'}")


if __name__ == "__main__":
    CLI(main, as_positional=False)
