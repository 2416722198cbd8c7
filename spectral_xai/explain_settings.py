"""How detections are explained and scored, as one checked object (:class:`ExplainSettings`): the
training callback, explain.py, reproduce.py and ``explain()`` all take it."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

from .detection import Scoring
from .detection.runtime import RUNTIMES, onnxruntime_available
from .detection.scoring import PRECISIONS
from .explainers import SaliencyMethod, create, method_names
from .explainers.base import check_known
from .explainers.baselines import BASELINES, NEGATIVE_CONTROL, REFERENCES
from .metrics import FILLS, PAPER_FILL
from .settings import Setting, SettingsError, closest, name_list, unknown_name
from .analysis.statistics import UNITS, Inference, primary_pairs
from .data_modules.sequences import Sequences

log = logging.getLogger(__name__)

Boxes = Union[str, int]  # "top", "all" or N (checked by ExplainSettings, with a message of our own)
Methods = Union[str, Sequence[str]]  # "all", "gradcam,rise" or a list
#: The ``targets`` setting's names, and the kind of :class:`Target` each gives.
TARGET_SETTING = {"detections": "detection", "missed": "missed", "false_positives": "false_positive"}


def boxes_label(boxes: Boxes) -> str:
    """How reports name the protocol: ``top``, ``all`` or ``best N``."""
    return boxes if isinstance(boxes, str) else f"best {boxes}"


NUMBERS = {"target_min_score": Setting(float, 0, 1), "step": Setting(float, 0, 1, open="low"),
           "batch_size": Setting(int, low=1), "precision": Setting(str, choices=PRECISIONS),
           "baselines": Setting(bool), "channels_last": Setting(bool), "compile": Setting(bool),
           "runtime": Setting(str, choices=RUNTIMES), "repeats": Setting(int, low=1), "bootstrap_resamples": Setting(int, low=100),
           "bootstrap_seed": Setting(int, low=0), "metric_checks": Setting(bool), "road_checks": Setting(bool),
           "equivalence_margin": Setting(float, 0, 1, open="low"), "unit": Setting(str, choices=UNITS),
           "sequence_gap": Setting(int, low=1)}


@dataclass
class ExplainSettings:
    """How detections are explained and scored: one object, checked once when a run is configured
    (a mistake is a :class:`SettingsError` naming the setting, before any work), and used alike by
    the training callback, explain.py and reproduce.py.

    Args:
        methods: registered method names (``list_methods()``; docs/methods.md lists them), or ``all``; a list, or one string
            ``gradcam,rise``.
        method_settings: per method, its settings, e.g. ``{"rise": {"n_masks": 500}}``; each is
            checked against the method's declared settings (names, types and ranges).
        scoring: the one rule by which every perturbation method and the metric score a detection
            in altered images (see :class:`Scoring`): ``{rule: matched, min_score: 0.05, min_iou:
            0.5}`` (the default, the paper's) or ``{rule: drise}``.
        step: insertion/deletion step, a share of the image area.
        fill: what deleted pixels become and what inserted pixels are put back into, each ``zeros``
            (the dataset's mean colour), ``blur`` (the image blurred) or ``road`` (ROAD's noisy
            linear imputation, Rong et al. 2022: each removed pixel the mean of its neighbours, so
            that the removed region's shape shows less): ``{deletion: zeros, insertion: blur}``, the
            paper's, by default; either key may be given alone.
        metric_checks: also score every map's deletion and insertion under the other fill (zeros
            and blur swapped; ROAD's takes the paper's) and with its least relevant pixels first (4
            more curves a map), so that metric_reliability.csv says whether the AUCs rank maps alike
            whatever the fill, and turn around with the order.
        road_checks: also score every map's deletion and insertion under ROAD's fill (2 more
            curves a map, each step's imputation a sparse solve: ``benchmarks/explainer_cost.py``
            gives its cost beside the other fills'), a check of each AUC like ``metric_checks``'.
        known_causes: on rendered data (a dataset written with its ``Scenes/`` descriptions),
            also judge every map against what truly moved the detector: each part of the box's
            object, every other object and the context rendered away, the target's score change
            being that cause's true effect (and the same under another noise seed, its noise); a
            map scores ``part_ranking`` (Spearman between its mass on each part and other object and
            their true effects), ``top_part`` and ``target_sensitivity`` (docs/methods.md, the
            metrics). Boxes whose largest effect is within noise are counted, not scored; data
            without descriptions (the real dataset) has no known causes.
        batch_size: images per forward pass of the perturbation methods and the metric.
        target_min_score: detections scoring lower are not explained (nor their image, when its
            top detection scores lower).
        boxes: which detections of an image to explain: ``top`` (the paper's protocol), ``all``
            above ``target_min_score``, or an integer N: the N best of those. The same cut applies
            to each other kind of target (``top``: the missed object the net came nearest to
            finding, the most confident false positive).
        targets: what to explain, any of ``detections`` (the default), ``missed`` (annotated
            objects with no detection of their class at IoU >= 0.5 scoring >= ``target_min_score``;
            gradient methods explain the class logit of the anchor whose decoded box overlaps the
            object most, perturbation methods and the metric score the object by the best
            detection of its class at IoU >= 0.5, with no floor, or by ``anchor`` where that is the
            rule) and ``false_positives`` (detections scoring >= ``target_min_score`` with no
            annotated object of their class at IoU >= 0.5). Every table keeps the kinds apart.
        precision: ``32`` or mixed precision for the detector passes of perturbation methods and
            the metric (``bf16-mixed``, ``16-mixed``; meant for GPUs, see :class:`DetectionScorer`).
        channels_last: explain.py and reproduce.py turn a checkpoint's net to ``torch.channels_last``
            before explaining it (see :meth:`EfficientDetModule.use_channels_last`): the net's
            forward pass takes 0.5-0.7x the time on a 2-core CPU (whole methods gain less where
            decoding and masks take their share; ``benchmarks/explainer_cost.py --sections layouts``
            measures them), and maps agree with the default layout's to 1e-4. The training callback explains the net in the
            layout it trains in (the model's own ``channels_last``).
        compile: run the perturbation passes through ``torch.compile`` of the net (gradient
            methods stay eager). Compiling costs a minute or two per net on a CPU, paid at its first
            pass (logged); every later chunk is padded to that batch size, so the net is not compiled
            again (but for a larger chunk); worth it on a GPU and for long runs. A net that cannot be compiled is explained eagerly, with one warning.
        runtime: what runs the perturbation passes and the metric's (every forward pass without
            gradients): ``torch``, ``onnxruntime`` (the raw net exported to ONNX once per weights and
            input size, cached by content; its logits equal torch's to about 1e-5, in about half
            the time of ``channels_last`` on a CPU), or ``auto`` (the default): ONNX Runtime for
            full-precision passes on a CPU, torch on a GPU or where ``compile`` or a mixed
            ``precision`` is asked for. Gradient methods always run in torch; a net that cannot be
            exported is explained in torch, with one warning.
        baselines: also explain every box with ``random`` (a smooth random map) and ``box`` (a
            Gaussian on the box), so that every method is compared with chance and with knowing
            only where the box is.
        repeats: stochastic methods (RISE, D-RISE, SESS around them, ``random``) explain every box
            this many times. Each image draws from its own seed, derived from the method's ``seed``,
            the scene id and the spectrum (so that mask noise is independent across scenes while
            the boxes of one image share their masks), each repeat from one derived from that: the
            summary gives the seed-to-seed map correlation and the intraclass correlation of the
            AUCs, and a box's AUC in every comparison is the mean of its repeats.
        bootstrap_resamples: resamples of the bootstrap behind every 95 % interval (>= 100).
        bootstrap_seed: its seed (and the sign-flip test's, beyond 16 scenes).
        primary_comparisons: the comparisons declared before the data, held to 0.05 together
            (Holm): pairs of methods ``a:b``, e.g. ``gradcam:random,gradcam:rise``; by default
            every explained method against each baseline explained (``random``, ``box``, and
            ``edges`` where named) and the pairs among Grad-CAM, RISE and SIDU that were explained,
            on deletion and insertion AUC of detections (and with ``known_causes``, on the known-cause
            scores where the data has them). Every other
            comparison is exploratory (Benjamini-Hochberg q-values).
        equivalence_margin: the smallest AUC difference that matters: a comparison whose interval
            lies inside +-margin, by two one-sided tests, is "equivalent". A metric on another scale
            declares its own (the known-cause metrics: 0.1 of a rank correlation, of a share of
            boxes, of cue enrichment).
        unit: what the statistics count as independent: ``scene`` (each image id; rendered data) or
            ``sequence`` (a run of consecutive frames: the real dataset's ids are frames a second
            apart, nearly the same picture, so counting them apart claims more than the data holds).
        sequence_length: with ``unit: sequence``, at most this many frames a run (default: no limit).
        sequence_gap: with ``unit: sequence`` and numeric ids, a new run starts where the next id is
            more than this after the last (1: consecutive ids are one run).
        sequences_file: with ``unit: sequence``, a CSV of ``sample_id,sequence`` that says each
            frame's run instead of its id.
        negative_controls: methods (not baselines) to explain again on the fully randomised net
            (the sanity check's last stage, weights shuffled), their maps scored on the trained net
            as extra rows named ``<method>@random_net``. A map made without the trained weights
            cannot explain the detector: a metric that deserves trust ranks such a map below its
            trained counterpart, and the report says in how many scenes each metric does.
            Perturbation methods make them under the anchor rule, as the sanity check does.

    """

    methods: Methods = ("gradcam", "rise", "sidu")
    method_settings: Mapping[str, Any] | None = None
    scoring: Mapping[str, Any] | None = None  # or a Scoring; typed as a mapping for the command line and configs
    step: float = 0.05
    fill: Mapping[str, str] | None = None
    metric_checks: bool = False
    road_checks: bool = False
    known_causes: bool = False
    batch_size: int = 32
    target_min_score: float = 0.05
    boxes: Boxes = "top"
    targets: Methods = ("detections",)
    precision: str = "32"
    channels_last: bool = True
    compile: bool = False
    runtime: str = "auto"
    baselines: bool = True
    repeats: int = 1
    bootstrap_resamples: int = 2000
    bootstrap_seed: int = 0
    primary_comparisons: Methods | None = None
    equivalence_margin: float = 0.02
    unit: str = "scene"
    sequence_length: int | None = None
    sequence_gap: int = 1
    sequences_file: str | None = None
    negative_controls: Methods = ()

    def __post_init__(self) -> None:
        self.methods = method_names(self.methods)
        if self.baselines is True:
            self.methods += [name for name in BASELINES if name not in self.methods]
        given = self.method_settings or {}
        if not isinstance(given, Mapping) or not all(isinstance(v, Mapping) for v in given.values()):
            raise SettingsError(f"method_settings {given!r}: give each method's settings, e.g. {{rise: {{n_masks: 500}}}}")
        for name in given:
            check_known(name)
            if name not in self.methods:
                log.warning("method_settings for %r are checked but unused: %r is not among the methods %s",
                            name, name, self.methods)
        self.method_settings = {name: dict(settings) for name, settings in given.items()}
        for name in dict.fromkeys([*self.methods, *given]):
            create(name, **self.method_settings.get(name, {}))  # every value checked now, not at the first image
        self.scoring = Scoring.from_settings(self.scoring)
        for name, setting in NUMBERS.items():
            setattr(self, name, setting.check("settings", name, getattr(self, name)))
        if self.runtime == "onnxruntime" and not onnxruntime_available():
            raise SettingsError("settings: runtime onnxruntime: the onnxruntime and onnx packages are not installed "
                                "(pip install onnxruntime onnx), or choose runtime torch or auto")
        if self.runtime == "onnxruntime" and (self.compile or self.precision not in ("32", "32-true")):
            raise SettingsError("settings: runtime onnxruntime runs full-precision, uncompiled passes: "
                                "give it without compile and precision, or choose runtime torch")
        self.boxes = _boxes(self.boxes)
        self.fill = _fill(self.fill)
        self.targets = target_kinds(self.targets)
        self.negative_controls = method_names(self.negative_controls) if self.negative_controls else []
        for name in self.negative_controls:
            if name not in self.methods or name in REFERENCES:
                raise SettingsError(f"settings: negative_controls: {name!r}: name methods the run explains (not a "
                                    f"baseline): {', '.join(m for m in self.methods if m not in REFERENCES)}")
        if self.sequence_length is not None and self.sequence_length < 1:
            raise SettingsError(f"settings: sequence_length {self.sequence_length}: give at least 1 frame a run")
        self.primary = primary_pairs(self.methods, self.primary_comparisons)
        for name in {name for pair in self.primary for name in pair} - set(self.methods):
            raise SettingsError(f"primary_comparisons: {name!r} is not among the methods explained "
                                f"({', '.join(self.methods)}){closest(name, self.methods)}")

    @property
    def inference(self) -> Inference:
        return Inference(self.bootstrap_resamples, self.bootstrap_seed, self.equivalence_margin, self.unit,
                         Sequences(self.sequence_length, self.sequence_gap, self.sequences_file))

    @property
    def controls(self) -> list[str]:
        """The negative controls' rows: ``gradcam@random_net`` for ``negative_controls: [gradcam]``."""
        return [f"{name}{NEGATIVE_CONTROL}" for name in self.negative_controls]

    def build_methods(self) -> dict[str, SaliencyMethod]:
        return {name: create(name, **self.method_settings.get(name, {})) for name in self.methods}


def _boxes(boxes: Any) -> Boxes:
    """``top``, ``all`` or a number N >= 1 (``"5"`` as typed on a command line is 5)."""
    if isinstance(boxes, str) and boxes.strip().isdigit():
        boxes = int(boxes)
    if boxes in ("top", "all") or (isinstance(boxes, int) and not isinstance(boxes, bool) and boxes >= 1):
        return boxes
    raise SettingsError(f"settings: boxes {boxes!r}: choose 'top', 'all' or a number of boxes >= 1")


def _fill(fill: Any) -> dict[str, str]:
    """The paper's fills with those given put in: ``{deletion: blur}`` changes deletion's alone."""
    given = {} if fill is None else fill
    if not isinstance(given, Mapping):
        raise SettingsError(f"settings: fill {fill!r}: give a mapping, e.g. {{deletion: zeros, insertion: blur}}")
    for kind, chosen in given.items():
        if kind not in PAPER_FILL:
            raise unknown_name("fill", kind, PAPER_FILL)
        if chosen not in FILLS:
            raise SettingsError(f"settings: fill {kind}: {chosen!r}: choose one of {', '.join(FILLS)}")
    return {**PAPER_FILL, **given}


def target_kinds(targets: Methods) -> list[str]:
    """The ``targets`` setting as :class:`Target` kinds, checked: ``detections,missed`` ->
    ``["detection", "missed"]``."""
    names = name_list(targets, "targets")
    if not names:
        raise SettingsError(f"targets: name at least one of {', '.join(TARGET_SETTING)}")
    for name in names:
        if name not in TARGET_SETTING:
            raise unknown_name("target kind", name, TARGET_SETTING)
    return [TARGET_SETTING[name] for name in dict.fromkeys(names)]
