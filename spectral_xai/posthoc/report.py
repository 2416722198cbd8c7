"""The report written from what was collected: the tables (boxes.csv, Table 2, comparisons,
attribution, complementarity, sanity), the figures, and report.html's sections in their order."""
from __future__ import annotations

import math
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..explaining import Explainer
from ..explain_settings import boxes_label
from ..metrics import registry
from ..reporting.box_table import write_csv
from ..reporting.complementarity import write_complementarity
from ..reporting.comparisons import (blank_rows, families_paragraph, primary_rows, primary_sentences, spectrum_rows,
                                     write_comparisons)
from ..reporting.html import Section, write_report
from ..reporting.tables import judged_rows, method_rows, write_attribution, write_sanity, write_summary
from ..results import BoxResult
from ..sanity import STAGES
from ..analysis.reliability import CONTROL_COLUMNS
from ..analysis.statistics import group_name
from ..analysis.cue_use import COLUMNS as KNOWN_CAUSE_COLUMNS, known_cause_rows
from ..analysis.spectrum_truth import COLUMNS as SPECTRUM_TRUTH_COLUMNS
from ..analysis.truth import COLUMNS as TRUTH_COLUMNS, TRUTH
from .collect import Collected
from .reanalyse import write_analysis
from .plan import LoadedCheckpoint, Plan
from .report_figures import Drawn, draw_figures

Rows = list[list[str]]
RELIABILITY_COLUMNS = ["model", "spectrum", "targets", "measure", "metric", "value", "low", "high", "n"]


@dataclass
class Tables:
    """The tables the report shows, as written to their files."""

    summary: Rows
    attribution: Rows
    by_class: Rows  # complementarity per class and condition
    by_pair: Rows  # complementarity per ordered pair of nets x spectra
    reliability: Rows
    truth: Rows  # metric_truth.csv; only its header without known causes
    controls: Rows  # negative_controls.csv; only its header without negative controls
    spectra_truth: Rows  # spectrum_truth.csv; only its header without a fused input's known causes
    known_causes: Rows  # known_causes.csv: boxes with known causes and the cue's effect, per net x spectrum
    sanity: Rows | None
    sanity_entries: list[dict]


def write_tables(folder: Path, collected: Collected, explainer: Explainer, sanity_check: bool,
                 class_names: Sequence[str]) -> Tables:
    write_csv(folder / "boxes.csv", collected.columns, collected.rows)
    summary = write_summary(folder, collected.table, collected.methods, explainer.step, boxes_label(explainer.boxes))
    write_comparisons(folder, collected.compared)
    write_analysis(folder, explainer.settings, collected.family_of)
    attribution = write_attribution(folder, collected.table)
    by_class, by_pair = write_complementarity(folder, collected.records, collected.evaluated, class_names)
    reliability = [RELIABILITY_COLUMNS, *([_number(row[c]) if c in ("value", "low", "high") else row[c] for c in RELIABILITY_COLUMNS]
                                          for row in collected.reliability)]
    write_csv(folder / "metric_reliability.csv", reliability[0], reliability[1:])
    truth = [TRUTH_COLUMNS, *([_number(row[c]) if c in ("mean_tau", "low", "high") else row[c] for c in TRUTH_COLUMNS]
                              for row in collected.truth)]
    if explainer.settings.known_causes:
        write_csv(folder / "metric_truth.csv", truth[0], truth[1:])
    counts = [KNOWN_CAUSE_COLUMNS, *([_number(row[c]) if isinstance(row[c], float) else str(row[c]) for c in KNOWN_CAUSE_COLUMNS]
                                     for row in known_cause_rows(collected.groups))]
    if explainer.settings.known_causes:
        write_csv(folder / "known_causes.csv", counts[0], counts[1:])
    controls = [CONTROL_COLUMNS, *([_number(row[c]) if c in ("share", "p") else row[c] for c in CONTROL_COLUMNS]
                                   for row in collected.controls)]
    if explainer.settings.negative_controls:
        write_csv(folder / "negative_controls.csv", controls[0], controls[1:])
    numbers = ("same_top_spectrum", "low", "high", "share_distance")
    spectra_truth = [SPECTRUM_TRUTH_COLUMNS, *([_number(row[c]) if c in numbers else row[c] for c in SPECTRUM_TRUTH_COLUMNS]
                                               for row in collected.spectra_truth)]
    if collected.spectra_truth:
        write_csv(folder / "spectrum_truth.csv", spectra_truth[0], spectra_truth[1:])
    sanity, entries = write_sanity(folder, collected.sanity, STAGES) if sanity_check else (None, [])
    return Tables(summary, attribution, by_class, by_pair, reliability, truth, controls, spectra_truth, counts, sanity,
                  entries)


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.3f}"


def write_all(folder: Path, collected: Collected, plan: Plan, run: Mapping[str, Any], sanity_check: bool,
              scene_grids: int, media: bool) -> tuple[Tables, Drawn]:
    """Tables, figures and report.html into ``folder``; returns the tables and figures (for W&B)."""
    explainer = plan.explainer
    tables = write_tables(folder, collected, explainer, sanity_check, plan.loaded[0].spec.class_names)
    drawn = draw_figures(folder, collected, tables.sanity_entries, scene_grids, media)
    settings = settings_rows(plan.loaded, explainer, plan.scenes, collected.skipped, run)
    write_report(folder, "spectral-xai: explanations", [], sections(collected, tables, drawn, settings, explainer))
    return tables, drawn


def directions(results: Sequence[BoxResult]) -> str:
    """Which way each reported metric the results hold is better, in words."""
    return ", ".join(f"{m.label} {m.direction.replace(' is better', '')}"
                     for m in registry.held(results, registry.reported())) + " is better"


def known_cause_sections(collected: Collected, counted: Rows, explainer: Explainer, figures: Sequence[Path] = ()
                         ) -> list[Section]:
    """With ``known_causes``: how many boxes had known causes and a measurable one, and per net x
    spectrum each method against them; or why there are none."""
    if not explainer.settings.known_causes:
        return []
    title = "Against the known causes"
    header = counted[0]  # known_causes.csv: each net x spectrum x kind of target's boxes counted once
    known, measurable = (sum(int(row[header.index(column)]) for row in counted[1:])
                         for column in ("with_known_causes", "measurable"))
    if not known:
        return [Section(title, paragraphs=[
            "Known-cause scores exist only on rendered data: a dataset written with its scene descriptions "
            "(Scenes/, as the synthetic writer makes them). None of these scenes has one, so no map was judged against "
            "the true causes of its detection."])]
    tables = [(group_name(key), judged_rows(entry, collected.methods, "known_causes"))
              for entry, key in zip(collected.table, collected.groups) if key[2] == "detection"]
    tables.append(("Boxes with known causes, and whether each net uses the cue (running cars: the cue rendered away)",
                   counted))
    return [Section(title, paragraphs=[
        f"Each part of the box's object, every other object and the context rendered away; the target's score change "
        f"is that cause's true effect, and the same change under another noise seed its noise. {measurable} of "
        f"{known} boxes with known causes had one that stands out of the noise (the others are counted, not "
        "scored). Part ranking: Spearman between the map's mass on each part and other object and their true effects; "
        "top part: whether the cause with the most mass has the largest effect; cue enrichment (running cars on "
        "known-cause data): the map's share of mass on the cue over the cue's share of the box (1: no more than a "
        "map spread over the box); on other objects: the share of the map's mass there. The compared ones are in the "
        "primary comparisons above, beside the baselines (name edges among the methods to add the edge baseline). "
        "Below, per net x spectrum, one detection (a running car where there is one): each method's map with the "
        "parts and other objects outlined, and each one's share of the true effect beside the map's share of mass."],
        tables=tables, figures=list(figures))]


def spectrum_truth_sections(tables: Tables) -> list[Section]:
    """With a fused input's known causes: spectrum attribution against each spectrum's true share."""
    if len(tables.spectra_truth) == 1:
        return []
    return [Section("Which spectrum truly carries the detection", paragraphs=[
        "For an input of several spectra (early fusion), the box's object, and a running car's cue, rendered away in "
        "one spectrum only: the score's drop is that spectrum's true effect; spectrum attribution's answer is the "
        "drop with the spectrum's channels replaced by the deletion substrate. Per box, each side's shares over the "
        "spectra (positive drops over their sum): same top spectrum is the share of boxes where both name the same "
        "spectrum as the one that matters most (low and high: its exact binomial 95 % interval); share distance half "
        "the summed absolute differences of the shares (0 alike, 1 opposite), averaged over boxes. Boxes whose "
        "largest true effect is within its noise are counted (measurable) but not compared. spectrum_truth.csv holds "
        "the same."], tables=[("", tables.spectra_truth)])]


def control_sections(tables: Tables, explainer: Explainer) -> list[Section]:
    """With ``negative_controls``: whether each metric ranks a method's maps above its maps on the
    randomised net."""
    if not explainer.settings.negative_controls:
        return []
    return [Section("Negative controls", paragraphs=[
        "Each control is its method's map made on the fully randomised net (every weight shuffled; perturbation "
        "methods under the anchor rule), scored on the trained net like every other map. It cannot explain the "
        "detector, so a metric that deserves trust ranks the method above its control: per metric, in how many "
        "scenes it does (each by its mean over the scene's boxes; a tie is not above), and the one-sided sign "
        "test's p that it does so more often than chance. negative_controls.csv holds the same."],
        tables=[("", tables.controls)])]


def truth_sections(tables: Tables, explainer: Explainer) -> list[Section]:
    """With ``known_causes``: which metric ranks the maps as the known causes do."""
    if not explainer.settings.known_causes:
        return []
    title = "Which metric agrees with the known causes"
    if len(tables.truth) == 1:
        return [Section(title, paragraphs=["No box had known causes (rendered data only): no metric could be "
                                           "compared with the truth."])]
    return [Section(title, paragraphs=[
        f"Per scene, each metric ranks the methods and baselines by its mean over the scene's boxes, and the truth "
        f"ranks them by {registry.get(TRUTH).label} (how well each map ranks the causes the detector truly weighs); "
        "Kendall's tau-b between the two rankings, averaged over scenes (1: the metric orders the maps as the truth "
        "does, 0: as chance would). Low and high: a scene-bootstrap interval, simultaneous (Bonferroni) over a net x "
        "spectrum's metrics; agrees / disagrees where it excludes 0. With another metric: the paired difference of "
        "tau over the same scenes (closer: the first metric agrees more with the truth), simultaneous over the pairs. "
        "Without a truth (the real dataset), trust the metrics that agree here, on a detector trained alike. "
        "metric_truth.csv holds the same."], tables=[("", tables.truth)])]


def sections(collected: Collected, tables: Tables, drawn: Drawn, settings: Rows, explainer: Explainer) -> list[Section]:
    compared, estimated = collected.compared, any(r.condition.source == "estimate" for r in collected.records)
    method_tables = [(group_name(key), method_rows(entry, collected.methods))
                     for entry, key in zip(collected.table, collected.groups)]
    return [
        Section("What these numbers support", sentences=primary_sentences(compared), paragraphs=[
            families_paragraph(compared, explainer.settings.equivalence_margin)],
            tables=[("Primary comparisons", primary_rows(compared)),
                    *([("Blank maps: blank rates, and the AUCs with blank maps at the random map's (sensitivity)",
                        blank_rows(compared))] if len(blank_rows(compared)) > 1 else [])]),
        Section("Settings", tables=[("", settings)]),
        Section("Methods compared", paragraphs=[
            "Per net x spectrum (and kind of target): methods as rows, mean ± std over the maps that are not blank "
            "with n, the bootstrap 95 % interval of the mean; "
            + directions([r for group in collected.groups.values() for r in group]) + ". summary.csv holds the same in "
            "the paper's layout, comparisons.csv every paired test."], tables=method_tables, figures=drawn.methods),
        *known_cause_sections(collected, tables.known_causes, explainer, drawn.known_causes),
        *spectrum_truth_sections(tables),
        Section("Which spectrum is explained better", paragraphs=[
            "Each method's AUCs over the box's score on the unperturbed image, compared between nets x spectra on the "
            "same objects of the same scenes (exploratory: Benjamini-Hochberg q, each interval at the "
            "Benjamini-Yekutieli false-coverage level that matches it). Nets that differ only by their training seed "
            "are one arm, the seed a replicate: the standard error adds each side's spread over its nets and the "
            "spread over units, and the test and interval are Student's t on Welch-Satterthwaite's degrees of "
            "freedom; with one net on a side, or fewer than 3 seeds, a contrast speaks for these nets, not for their "
            "spectra in general, and says so."], tables=[("", spectrum_rows(compared))]),
        Section("How far the metrics can be trusted", paragraphs=[
            "Alpha across scenes: Krippendorff's alpha (ordinal) of the scenes' rankings of the explainers by each "
            "metric, each scene a rater (Tomsett et al. 2020): 1 when every scene ranks them alike, about 0 when the "
            "rankings agree as chance would; low and high a scene-bootstrap 95 % interval; n scenes ranked. The "
            "baselines are left out of it, since random always last and box nearly always first lift alpha to about "
            "0.7 with the explainers ranked at random; the row 'baselines ranked too' shows that reading. Spearman "
            "within boxes: whether two metrics meant to measure the same property agree on the maps of one box "
            "(deletion and insertion AUC should run opposite), averaged over boxes, then scenes; pooled over boxes it "
            "would mix boxes, as both AUCs grow with the box's score; n boxes. metric_reliability.csv holds the same."], tables=[("", tables.reliability)]),
        *control_sections(tables, explainer),
        *truth_sections(tables, explainer),
        Section("Curves", paragraphs=["Every method's mean curve on one axis; each method's own figure with every "
                                      "box: " + ", ".join(p.name for p in drawn.curves) + " (in curves/)."],
                figures=drawn.overlays),
        Section("Spectrum attribution", paragraphs=[
            "The box's score with each input spectrum replaced by the deletion substrate, and with it alone."],
            tables=[("", tables.attribution)]),
        Section("What each spectrum sees", paragraphs=[
            f"An object is found by a detection of its class at IoU >= 0.5 scoring >= {explainer.target_min_score}."
            + (" Day and night partly estimated from the RGB image's brightness." if estimated else "")
            + (" Below: found by one, missed by another, the finder's explanation of its detection above the other's "
               "explanation of its miss." if drawn.complementarity else "")],
            tables=[("Per class and condition", tables.by_class), ("Found by the first, missed by the second", tables.by_pair)],
            figures=drawn.complementarity),
        Section("Sanity check", paragraphs=[
            "Spearman correlation of each method's map with the trained net's as the net is re-initialised from the "
            "top (cumulative stages); near 1 means the map does not depend on the weights re-initialised so far."],
            tables=[("", tables.sanity)] if tables.sanity else [], figures=[*drawn.sanity_maps, *drawn.sanity]),
        Section("Scenes", paragraphs=["Every net and spectrum on the same scene (rows), every method (panels)."],
                figures=drawn.scenes),
        Section("Explained boxes", figures=drawn.boxes),
    ]


def settings_rows(loaded: Sequence[LoadedCheckpoint], explainer: Explainer, scenes: Sequence[str], skipped: int,
                  run: Mapping[str, Any]) -> Rows:
    """What made the numbers: the explanation settings, the run's options and every checkpoint."""
    settings, scoring = explainer.settings, explainer.scoring
    rows = [["setting", "value"], ["package", f"spectral-xai {version('spectral-xai')}"],
            *([f"method {name}", method.describe() or "no settings"] for name, method in explainer.methods.items()),
            ["scoring rule", f"{scoring.rule} (min score {scoring.min_score}, min IoU {scoring.min_iou})"],
            ["targets", ", ".join(settings.targets)], ["boxes per image (of each kind)", boxes_label(settings.boxes)],
            ["target min score", str(settings.target_min_score)], ["insertion/deletion step", str(settings.step)],
            ["repeats", str(settings.repeats)],
            ["bootstrap", f"{settings.bootstrap_resamples} resamples, seed {settings.bootstrap_seed}"],
            *([name, str(value)] for name, value in run.items()),
            ["scenes (the same for every net and spectrum where present)", ", ".join(scenes)],
            ["images with nothing to explain", str(skipped)]]
    return rows + [[f"checkpoint {checkpoint.name}", _described(checkpoint)] for checkpoint in loaded]


def _described(checkpoint: LoadedCheckpoint) -> str:
    hparams = checkpoint.data.hparams
    sizes = ", ".join(f"{part} {len(ids)}" for part, ids in (checkpoint.data.split or {}).items())
    split = f"{hparams.split}" + (f" ({hparams.split_file})" if hparams.split_file else f", seed {hparams.seed}")
    return (f"{checkpoint.path}; epoch {checkpoint.epoch}; val/map {checkpoint.val_map}; spectra "
            f"{'+'.join(checkpoint.data.spectra)} ({checkpoint.data.fusion}); {hparams.image_size} px; root "
            f"{hparams.root}; split {split}: {sizes}")
