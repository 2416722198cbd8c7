"""Forward-only passes on ONNX Runtime, a CPU inference runtime.

Nearly all of a perturbation method's time, and all of the metric's, is the raw net's forward pass
without gradients. On a 2-core CPU, ONNX Runtime runs the same graph (backbone, BiFPN and heads; no
decode) in 0.66x the time of torch's ``channels_last`` pass at 128 px and 0.29x at 512 px, its outputs
equal to float32 rounding: fused convolutions and batch norms, kernels laid out for the CPU
(``benchmarks/cpu_runtimes.py`` and ``benchmarks/explainer_cost.py --sections layouts`` measure it).

The raw net is exported once per weights and input size, with a dynamic batch axis, to a file
cached by content (a hash of the net's modules and their classes' source, every weight and
buffer, the input's channels and size, and the versions of the libraries that export and run it)
beside the cached test nets: a checkpoint explained again is not exported again, and a net whose weights change in place (the sanity check's randomised copies, a
net still training) is exported anew. Whatever cannot run there runs in torch, exactly as before: a
net in training mode (its batch norms read the batch), a net with a forward hook on it (a method
reading its activations), a net that cannot be exported (one warning naming why), or a machine
without onnxruntime.
"""
from __future__ import annotations

import hashlib
import inspect
import logging
import os
import warnings
import weakref
from collections import OrderedDict
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..settings import cache_dir

log = logging.getLogger(__name__)

Raw = tuple[list[torch.Tensor], list[torch.Tensor]]

#: ``runtime`` settings: ``auto`` is ONNX Runtime for full-precision passes on a CPU, else torch.
RUNTIMES = ("auto", "torch", "onnxruntime")
#: Exported files kept in the cache folder, the most recently used first; older ones are removed
#: (a net explained every epoch while it trains would otherwise leave one file an epoch).
KEPT_FILES = 32
#: Pixels per run of the session: a chunk of more is run in pieces of at most this many (whole
#: images). At 512 px, 4 images a run took 0.83x the time per image of 32 a run (55 ms against 66;
#: their activations outgrow the caches), while at 128 px 32 a run (0.5 M pixels) was fastest.
PIXELS_PER_RUN = 4 * 512 * 512
#: Sessions kept open in a process (a sanity check alternates between the trained net and its copies).
KEPT_SESSIONS = 4
_sessions: OrderedDict[tuple[str, int], Any] = OrderedDict()
_module_lists: weakref.WeakKeyDictionary[nn.Module, tuple[nn.Module, ...]] = weakref.WeakKeyDictionary()


def onnxruntime_available() -> bool:
    return find_spec("onnxruntime") is not None and find_spec("onnx") is not None


def resolve_runtime(runtime: str, device: torch.device, precision: str = "32", compile: bool = False) -> str:
    """The runtime ``runtime`` means for passes on ``device``: ``auto`` is ONNX Runtime on a CPU for
    full-precision, uncompiled passes (where it is installed), torch otherwise (a GPU has bf16 and
    compiled passes of its own)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r}: choose one of {', '.join(RUNTIMES)}")
    if runtime != "auto":
        return runtime
    full_precision = precision in ("32", "32-true")
    return "onnxruntime" if device.type == "cpu" and full_precision and not compile and onnxruntime_available() else "torch"


def _modules(net: nn.Module) -> tuple[nn.Module, ...]:
    """Every module of ``net``, listed once per net: walking the module tree at every pass took a
    tenth of an explanation's time at 128 px (3 M calls for 165 passes). A net's modules stay the
    same while it is explained; a weight or buffer assigned anew is still seen, since each pass
    reads the modules' own dictionaries."""
    modules = _module_lists.get(net)
    if modules is None:
        modules = _module_lists[net] = tuple(net.modules())
    return modules


def has_hooks(net: nn.Module) -> bool:
    """Whether a forward pass of ``net`` would call a hook: such a pass must run in torch."""
    from torch.nn.modules import module as torch_module
    if torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks:
        return True
    return any(m._forward_hooks or m._forward_pre_hooks for m in _modules(net))


def weights_state(net: nn.Module) -> tuple[int, int]:
    """Cheap to read at every pass, and changed by anything that changes a weight or buffer: the
    net's identity and the sum of its tensors' in-place version counters (and of their identities,
    so that a tensor assigned anew counts as a change)."""
    return id(net), sum(t._version + id(t) for m in _modules(net)
                        for t in (*m._parameters.values(), *m._buffers.values()) if t is not None)


def export_key(net: nn.Module, shape: tuple[int, ...]) -> str:
    """The exported file's content key: what the graph is (every module's class and its source),
    every weight and buffer, the input's [C, H, W], and the versions that export and run it."""
    hasher = hashlib.sha256(repr((tuple(shape), _versions(), _architecture(net))).encode())
    for name, tensor in net.state_dict().items():
        hasher.update(name.encode())
        hasher.update(str(tensor.dtype).encode())
        hasher.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return hasher.hexdigest()[:24]


def _architecture(net: nn.Module) -> tuple[str, ...]:
    """What decides the graph besides the weights: the net's modules as printed, and the source of
    each module class (two nets of equal weights whose forward differs must not share a file)."""
    sources = {}
    for module in net.modules():
        kind = type(module)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if name not in sources:
            try:
                sources[name] = inspect.getsource(kind)
            except (OSError, TypeError):  # a class made at run time: its name is all there is
                sources[name] = name
    return (repr(net), *sorted(sources.values()))


def _versions() -> tuple[str, ...]:
    found = []
    for package in ("torch", "onnx", "onnxruntime", "effdet", "timm"):
        try:
            found.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} missing")
    return tuple(found)


class ExportFailed(RuntimeError):
    """The net could not be exported or loaded by the runtime; the message says why."""


class OnnxPasses:
    """The raw net's forward passes on ONNX Runtime. Keeps which exported file serves the net's
    current weights (re-checked at every call, see :func:`weights_state`); holds no session itself,
    so a detector that holds it can be deep-copied (its copy's first call exports its own)."""

    def __init__(self) -> None:
        self._served: tuple[tuple[int, int], tuple[int, ...], str] | None = None  # weights state, input shape, key

    def __call__(self, net: nn.Module, images: torch.Tensor) -> Raw:
        shape = tuple(images.shape[1:])
        state = weights_state(net)
        if self._served is None or self._served[:2] != (state, shape):
            self._served = (state, shape, export_key(net, shape))
        session = _session(net, shape, self._served[2])
        piece = max(1, PIXELS_PER_RUN // (shape[-1] * shape[-2]))
        runs = [session.run(None, {"images": part.detach().cpu().contiguous().numpy()}) for part in images.split(piece)]
        raw = [torch.from_numpy(np.concatenate(parts)).to(images.device) for parts in zip(*runs)]
        levels = len(raw) // 2
        return raw[:levels], raw[levels:]


def _session(net: nn.Module, shape: tuple[int, ...], key: str) -> Any:
    threads = torch.get_num_threads()
    if (key, threads) in _sessions:
        _sessions.move_to_end((key, threads))
        return _sessions[key, threads]
    import onnxruntime

    path = exported(net, shape, key)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads  # the thread count follows torch's
    options.inter_op_num_threads = 1
    # Threads that spin after a pass (the default) take the cores from the torch work that follows
    # it (decoding, the next masks): a pass and torch's work took 1.3x their sum when it spun.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:
        raise ExportFailed(f"onnxruntime cannot load the exported net ({type(error).__name__}: {error})") from error
    _sessions[key, threads] = session
    while len(_sessions) > KEPT_SESSIONS:
        _sessions.popitem(last=False)
    return session


def forget_sessions() -> None:
    """Close every session this process holds (the next pass starts its own)."""
    _sessions.clear()


def runtime_cache() -> Path:
    """The exported nets' folder, beside the cached test nets (``$SPECTRAL_XAI_CACHE``)."""
    folder = cache_dir() / "runtime"
    folder.mkdir(exist_ok=True)
    return folder


def exported(net: nn.Module, shape: tuple[int, ...], key: str) -> Path:
    """The ONNX file of ``net`` for inputs [N, *shape]: read from the cache, or exported into it
    (one process at a time; another waits and reads it)."""
    from filelock import FileLock

    try:
        folder = runtime_cache()
        path = folder / f"{key}.onnx"
        with FileLock(str(folder / ".export.lock")):
            if not path.is_file():
                _export(net, shape, path)
                _forget_old(folder)
            os.utime(path)  # used now: kept the longest
    except OSError as error:  # a cache folder of another user's, a full disk
        raise ExportFailed(f"the exported net cannot be kept in the cache folder ({error})") from error
    return path


def _export(net: nn.Module, shape: tuple[int, ...], path: Path) -> None:
    sample = torch.zeros(2, *shape)  # the runtime runs on the CPU, and so does the net it is given
    scratch = path.with_name(f".{path.stem}.{os.getpid()}.onnx.part")
    try:
        # The TorchScript-based exporter: three times faster than torch.export's on this net, and
        # equal answers; deprecated, hence its warnings silenced (a torch without it falls back).
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            class_out, box_out = net(sample)
            names = [f"class_{i}" for i in range(len(class_out))] + [f"box_{i}" for i in range(len(box_out))]
            torch.onnx.export(net, (sample,), str(scratch), input_names=["images"], output_names=names,
                              dynamic_axes={name: {0: "batch"} for name in ["images", *names]},
                              opset_version=17, dynamo=False)
        os.replace(scratch, path)
    except Exception as error:
        raise ExportFailed(f"the net cannot be exported to ONNX ({type(error).__name__}: "
                           f"{str(error).splitlines()[0] if str(error) else ''})") from error
    finally:
        scratch.unlink(missing_ok=True)
    log.info("exported the net for ONNX Runtime (%s)", path.name)


def _forget_old(folder: Path) -> None:
    files = sorted(folder.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEPT_FILES:]:
        old.unlink(missing_ok=True)
