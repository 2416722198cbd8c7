"""The raw net's forward pass (backbone, BiFPN, heads; no decode) on each CPU runtime, side by side:
what ``runtime`` chooses between.

    python benchmarks/cpu_runtimes.py                       # 128 px and 512 px, batch 8, 5 rounds
    python benchmarks/cpu_runtimes.py --sizes 512 --rounds 3

Arms, alternated within each round on the same images: torch eager (the default layout), torch
``channels_last`` (explain.py's layout), ONNX Runtime (fp32; explain.py's default runtime on a CPU,
whose threads sleep between passes, and the same with its threads spinning, ONNX Runtime's default:
spinning threads take the cores from the torch work that follows each pass), and OpenVINO in fp32 and with bf16 inference where the ``openvino`` package is installed (it is not a
dependency: ``pip install openvino`` to measure it). Per arm and size: ms per image (min / median /
max over rounds), the speed over eager's and over ``channels_last``'s, the largest difference of its
outputs (logits and box regressions) to eager's (beside the largest output, for scale), and its GFLOP/s against the roofline of these cores:
the net's FLOPs per image (counted by torch's FlopCounterMode) over its time, beside what a large fp32
matrix product reaches here (the most these cores do in fp32). Writes
benchmarks/results/cpu_runtimes.json.
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import add_results_argument, alternated, spread, timed, write_result  # noqa: E402
from trained import add_checkpoint_argument, at_size, checkpoint_path, validation_images  # noqa: E402

from spectral_xai.detection.runtime import _export  # noqa: E402


def matmul_gflops(rounds: int, n: int = 2048) -> float:
    """The fp32 GFLOP/s of the fastest of ``rounds`` [n x n] @ [n x n] products: the cores' roofline."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    return max(2 * n ** 3 / timed(lambda: a @ b)[0] for _ in range(rounds)) / 1e9


def net_gflop(net: torch.nn.Module, image: torch.Tensor) -> float:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(image[None])
    return counter.get_total_flops() / 1e9


def flat(outputs) -> list[torch.Tensor]:
    class_out, box_out = outputs
    return [torch.as_tensor(o) for o in [*class_out, *box_out]]


def arms(net: torch.nn.Module, shape: tuple[int, ...], folder: Path) -> dict:
    """Each runtime as a function of a batch [B, C, H, W] -> its outputs as torch tensors, eager first."""
    last = copy.deepcopy(net).to(memory_format=torch.channels_last)
    path = folder / f"net_{shape[-1]}.onnx"
    _export(net, shape, path)
    found = {"eager": lambda x: flat(net(x)),
             "channels_last": lambda x: flat(last(x.contiguous(memory_format=torch.channels_last)))}
    import onnxruntime
    half = len(flat(net(torch.zeros(1, *shape)))) // 2
    for name, spinning in (("onnxruntime", "0"), ("onnxruntime_spinning", "1")):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        found[name] = lambda x, session=session: flat(_split(session.run(None, {"images": x.numpy()}), half))
    try:
        import openvino
    except ImportError:
        print("openvino is not installed: its arms are left out (pip install openvino to measure them)")
        return found
    core = openvino.Core()
    for name, precision in (("openvino_fp32", "f32"), ("openvino_bf16", "bf16")):
        compiled = core.compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": torch.get_num_threads(),
                                                          "INFERENCE_PRECISION_HINT": precision})
        found[name] = lambda x, compiled=compiled: flat(_split(_outputs(compiled(x.numpy()), 2 * half), half))
    return found


def _outputs(result, count: int) -> list:
    """OpenVINO's result of one inference, as the list of its ``count`` outputs."""
    return [result[i] for i in range(count)]


def _split(outputs: list, half: int) -> tuple[list, list]:
    return list(outputs[:half]), list(outputs[half:])


def measure(args, net: torch.nn.Module, images: list[torch.Tensor], roofline: float) -> dict:
    batch = torch.stack([images[i % len(images)] for i in range(args.batch_size)])
    gflop = net_gflop(net, batch[0])
    with tempfile.TemporaryDirectory() as folder, torch.no_grad():
        runs = arms(net, tuple(batch.shape[1:]), Path(folder))
        reference = runs["eager"](batch)
        for run in runs.values():  # warm-up: first-call allocations and the runtimes' own preparations
            run(batch)
        measured = alternated({name: (lambda run=run: timed(lambda: run(batch))) for name, run in runs.items()}, args.rounds)
    ms = {name: [1000 * s / len(batch) for s, _ in rounds] for name, rounds in measured.items()}
    figures = {"gflop_per_image": round(gflop, 3), "batch_size": len(batch)}
    print(f"{batch.shape[-1]} px: {gflop:.2f} GFLOP an image, batch {len(batch)}; roofline {roofline:.0f} GFLOP/s")
    scale = max(float(o.abs().max()) for o in reference)
    figures["largest_output_magnitude"] = round(scale, 2)
    print(f"{'arm':<22}{'ms/image':>10}{'vs eager':>10}{'vs c_last':>11}{'GFLOP/s':>9}{'of roof':>9}{'max diff':>11}")
    for name, values in ms.items():
        difference = max(float((a - b).abs().max()) for a, b in zip(measured[name][-1][1], reference))
        median = spread(values, 2)["median"]
        figures[name] = {"ms_per_image": spread(values, 2),
                         "over_eager": spread([v / e for v, e in zip(values, ms["eager"])], 3),
                         "over_channels_last": spread([v / c for v, c in zip(values, ms["channels_last"])], 3),
                         "gflops": round(gflop / (median / 1000), 1),
                         "share_of_roofline": round(gflop / (median / 1000) / roofline, 3),
                         "largest_difference_to_eager": float(f"{difference:.3g}")}
        f = figures[name]
        print(f"{name:<22}{median:>10.2f}{f['over_eager']['median']:>10.3f}{f['over_channels_last']['median']:>11.3f}"
              f"{f['gflops']:>9.1f}{f['share_of_roofline']:>9.3f}{difference:>11.2g}")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--sizes", default="128,512", help="input sizes, multiples of the net's")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    module, images = validation_images(checkpoint_path(args.checkpoint), 8)
    roofline = matmul_gflops(args.rounds)
    figures = {"threads": torch.get_num_threads(), "roofline_gflops": round(roofline, 1)}
    for size in map(int, args.sizes.split(",")):
        detector, sized = at_size(module, images, size)
        figures[f"{size}px"] = measure(args, detector.net.eval(), sized, roofline)
    write_result("cpu_runtimes", args.results, vars(args), figures)


if __name__ == "__main__":
    main()
