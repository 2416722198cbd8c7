"""Lightning training throughput as a ratio to a bare effdet training loop on the same batches, and
training in ``channels_last`` (``--model.channels_last true``) as a ratio to the default layout.

    python benchmarks/train_throughput.py [--image-size 128 --batch-size 4 --steps 20 --rounds 3]

Writes benchmarks/results/train_throughput.json.

Both loops train the same network from the same weights on the same in-memory batches with the same
optimiser; only the wrapper differs (Lightning: logging, hooks, progress tracking; no progress bar,
no checkpointing, no validation). The two are run alternately, ``--rounds`` times, and the ratio of
each round's steps per second is kept (goal >= 0.95). The same Lightning loop with the net in
``channels_last`` runs in the same rounds; its ratio to the default layout says whether the demo
recipe should train that way (goal <= 0.8 of the time, i.e. >= 1.25 times the steps per second).
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from spectral_xai.data_modules.dataset import collate
from spectral_xai.data_modules.layout import CLASS_NAMES
from spectral_xai.lit_modules import EfficientDetModule
from spectral_xai.lit_modules.efficientdet import effdet_targets

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import add_results_argument, alternated, spread, write_result  # noqa: E402


def make_batches(n: int, batch_size: int, size: int) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(n * batch_size):
        xy = torch.rand(2, generator=g) * size * 0.6
        wh = 16 + torch.rand(2, generator=g) * size * 0.3
        samples.append({"image": torch.randn(3, size, size, generator=g),
                        "boxes": torch.cat([xy, xy + wh]).unsqueeze(0),
                        "labels": torch.randint(0, 5, (1,), generator=g),
                        "sample_id": "0", "spectrum": "rgb"})
    return [collate(samples[i:i + batch_size]) for i in range(0, len(samples), batch_size)]


def bare_loop(module: EfficientDetModule, batches: list[dict], warmup: int) -> float:
    bench, size = module.bench.train(), module.hparams.image_size
    optimizer = torch.optim.Adam(bench.parameters(), lr=1e-3)
    for i, batch in enumerate(batches):
        if i == warmup:
            start = time.perf_counter()
        optimizer.zero_grad()
        loss = bench(batch["image"], effdet_targets(batch["boxes"], batch["labels"], size))["loss"]
        loss.backward()
        optimizer.step()
    return (len(batches) - warmup) / (time.perf_counter() - start)


class StepTimer(pl.Callback):
    def __init__(self, warmup: int):
        self.warmup, self.start, self.steps = warmup, 0.0, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps = batch_idx + 1 - self.warmup
        self.end = time.perf_counter()


def lightning_loop(module: EfficientDetModule, batches: list[dict], warmup: int) -> float:
    timer = StepTimer(warmup)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                         callbacks=[timer])
    trainer.fit(module, DataLoader(batches, batch_size=None, shuffle=False))
    return timer.steps / (timer.end - timer.start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    add_results_argument(parser)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    template = EfficientDetModule(CLASS_NAMES, image_size=args.image_size)
    batches = make_batches(args.steps + args.warmup, args.batch_size, args.image_size)
    measured = alternated({"bare": lambda: bare_loop(copy.deepcopy(template), batches, args.warmup),
                           "lightning": lambda: lightning_loop(copy.deepcopy(template), batches, args.warmup),
                           "channels_last": lambda: lightning_loop(copy.deepcopy(template).use_channels_last(), batches,
                                                                   args.warmup)}, args.rounds)
    bare, lightning, last = measured["bare"], measured["lightning"], measured["channels_last"]
    figures = {"bare_steps_per_s": spread(bare), "lightning_steps_per_s": spread(lightning),
               "lightning_over_bare": spread([l / b for l, b in zip(lightning, bare)], 3), "goal": 0.95,
               "channels_last_steps_per_s": spread(last),
               "channels_last_time_over_default": spread([l / c for l, c in zip(lightning, last)], 3),
               "channels_last_goal": 0.8}
    print(f"image {args.image_size}px, batch {args.batch_size}, {args.steps} timed steps x {args.rounds} rounds, "
          f"{torch.get_num_threads()} threads")
    for name, key in (("bare effdet loop", "bare_steps_per_s"), ("Lightning", "lightning_steps_per_s"),
                      ("ratio Lightning / bare (goal >= 0.95)", "lightning_over_bare"),
                      ("Lightning, channels_last", "channels_last_steps_per_s"),
                      ("time channels_last / default (goal <= 0.8)", "channels_last_time_over_default")):
        f = figures[key]
        print(f"{name:<40} min {f['min']:.3f} / median {f['median']:.3f} / max {f['max']:.3f}")
    write_result("train_throughput", args.results, vars(args), figures)


if __name__ == "__main__":
    main()
