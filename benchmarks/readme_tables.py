"""README's tables, rendered from the result files under benchmarks/results/.

    python benchmarks/readme_tables.py          # rewrite every table block of README.md and docs/ from its result file
    python benchmarks/readme_tables.py --check  # exit 1 naming every block that differs (a test runs this)

A block in README.md or a page of docs/ is ``<!-- results: NAME -->`` ... ``<!-- /results -->``; NAME is a renderer below,
each reading one result file and ending with the line that says which file, commit and command. A block
``<!-- generated: NAME -->`` ... ``<!-- /generated -->`` is a reference table rendered from the code
(``spectral_xai.docs_tables``: the methods, the settings).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import known_cause_tables  # noqa: E402
from reproduction_tables import (demo_spreads, every_method, metric_reliability, sanity, sanity_every_net, spectrum_contrasts,  # noqa: E402
                                 spectrum_verdicts, supported, table2)
from result_tables import RESULTS, load, source, spread, table  # noqa: E402,F401  (RESULTS: the tests find the files here)

from spectral_xai.docs_tables import TABLES  # noqa: E402
README = HERE.parent / "README.md"
#: README and the pages of docs/: every file a table may be quoted in.
DOCUMENTS = [README, *sorted((HERE.parent / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- (results|generated): (\w+) -->\n)(.*?)(<!-- /\2 -->)", re.S)


def demo_seeds() -> str:
    record = load("demo_seeds")
    rows = []
    for variant, group in record["figures"].items():
        runs = group["runs"]
        collapses = "; ".join(f"{Path(r['run']).name}: epochs {', '.join(map(str, r['collapses']))}"
                              for r in runs if r["collapses"]) or "none"
        seeds = ", ".join(Path(r["run"]).name.rsplit("-s", 1)[-1] for r in runs)
        rows.append([variant, seeds, spread(group["final_map_50"], 3), collapses])
    return table(["demo", "seeds", "final val/map_50 min / median / max", "collapses"], rows) + "\n\n" + source(record)


def rise_convergence() -> str:
    record = load("rise_convergence")
    figures = record["figures"]
    rows = [[masks, "-" if f["seed_to_seed_r"] is None else spread(f["seed_to_seed_r"], 3),
             "-" if f["deletion_auc_sd"] is None else f"{f['deletion_auc_sd']['median']:.4f}",
             "-" if f["insertion_auc_sd"] is None else f"{f['insertion_auc_sd']['median']:.4f}",
             f"{f['seconds_per_map']['median']:.1f}", str(f["blank_boxes"])] for masks, f in figures["by_masks"].items()]
    # n_masks: auto rows (results written before auto existed have none): the masks it drew, min / median / max
    rows += [[f"auto at {level} ({spread(f['masks'], 0)})", "-" if f["seed_to_seed_r"] is None else spread(f["seed_to_seed_r"], 3),
              "", "", f"{f['seconds_per_map']['median']:.1f}", str(f["blank_boxes"])]
             for level, f in figures.get("auto", {}).items()]
    converged = figures["converged_at"]
    return (table(["masks", "seed-to-seed r, min / median / max over boxes", "deletion AUC sd over seeds (median)",
                   "insertion AUC sd over seeds (median)", "s per map", "blank boxes"], rows)
            + f"\n\n{figures['boxes']} boxes (scores {', '.join(map(str, figures['box_scores']))}), rule {figures['rule']}; "
            + (f"the maps correlate >= {figures['goal_r']} with themselves on every box from {converged} masks."
               if converged else f"no mask count tried gets every box's maps to r >= {figures['goal_r']}.")
            + "\n\n" + source(record))


def sidu_coverage() -> str:
    record = load("sidu_coverage")
    figures = record["figures"]
    rows = [[threshold, " / ".join(f"{100 * f['share_kept'][k]:.0f} %" for k in ("min", "median", "max")),
             " / ".join(f"{f['empty_masks'][k]:g}" for k in ("min", "median", "max"))]
            for threshold, f in figures["thresholds"].items()]
    return (table(["threshold", "share of feature cells kept, min / median / max", f"empty masks of {figures['channels']}"], rows)
            + f"\n\n{figures['boxes']} boxes, features entering `{figures['layer']}`.\n\n" + source(record))


def explainer_cost() -> str:
    record = load("explainer_cost_128px")
    figures = record["figures"]
    rows = [[name, spread(f["ratio"]), f"{f['goal']:.2f}", f"{f['seconds']['median']:.3f}", f["work"]]
            for name, f in figures["cost"].items()]
    floor, memory = figures["floor"], figures["memory"]
    shared = "; ".join(f"{rule}: K = {f['k']} boxes {spread(f['ratio'])} x the time of one (goal <= 1.25), largest "
                       f"difference from a map made alone {max(f['max_difference_best_kth']):.0e}"
                       for rule, f in figures["shared"].items())
    return (table(["method", "time / unavoidable model evaluations, min / median / max", "goal", "method s", "model evaluations"], rows)
            + f"\n\nThe score floor: the perturbed images ({floor['images']}, RISE's and the metric's) decode in "
            f"{floor['ms_per_image_with_floor']['median']:.1f} ms each at score >= 0.05 and "
            f"{floor['ms_per_image_without_floor']['median']:.1f} ms without the floor ({spread(floor['without_over_with'])} x). "
            f"RISE's peak memory: {memory['peak_rss_mib'][0]:.0f} MiB at {memory['masks'][0]} masks, "
            f"{memory['peak_rss_mib'][1]:.0f} MiB at {memory['masks'][1]} (x {memory['ratio']:.3f}, goal <= 1.10)"
            + (f", of which the explanation added {memory['added_mib'][0]:.0f} and {memory['added_mib'][1]:.0f} MiB. "
               if "added_mib" in memory else ". ") +
            f"Shared perturbations: {shared}. Image {figures['image_size']} px, its best detection scoring "
            f"{figures['target_score']:.2f}.\n\n" + source(record))


def per_box() -> str:
    record = load("explainer_cost_512px")
    figures = record["figures"]
    rows = [[name, spread(f["seconds_per_box"], 3), f"{f['added_mib']:.0f}"]
            for name, f in figures["per_box"].items() if name != "idle_peak_rss_mib"]
    return (table(["method", f"seconds per box at {figures['image_size']} px, min / median / max",
                   "MiB the explanation added at its peak"], rows)
            + f"\n\nA process that only loaded the net and the images peaks at "
            f"{figures['per_box']['idle_peak_rss_mib']:.0f} MiB.\n\n" + source(record))


def layouts() -> str:
    record = load("layouts_512px")
    figures = record["figures"]
    rows = []
    for name, by_layout in figures["layouts"].items():
        if not isinstance(by_layout, dict):
            continue
        for layout, f in by_layout.items():
            agreement = (f"map r {f['map_r_to_eager']:.5f}" if "map_r_to_eager" in f
                         else f"blank map, differs by {f['map_difference_to_eager']:.1e}" if "map_difference_to_eager" in f
                         else f"AUCs differ by {f['auc_difference_to_eager']:.1e}")
            rows.append([name, layout, spread(f["seconds_per_box"], 2), spread(f["over_own_evaluations"], 2),
                         spread(f["over_eager"], 2), agreement])
    warm_up = figures["layouts"].get("compile_warm_up_seconds")
    export = figures["layouts"].get("runtime_export_seconds")
    return (table(["method", "layout", f"s per box at {figures['image_size']} px", "/ its own evaluations at that speed",
                   "/ eager, same round", "agreement with eager"], rows)
            + (f"\n\nCompiling the net took {warm_up:.0f} s (paid once per net, not per box)." if warm_up else "")
            + (f"\n\nExporting the net to ONNX and starting its session took {export:.1f} s (paid once per net and "
               "input size; a checkpoint explained again reads the cached file)." if export else "")
            + "\n\n" + source(record))


def rise_time() -> str:
    record = load("rise_time")
    figures = record["figures"]
    rows = [[name, spread(f["seconds_per_box"], 1), spread(f["ms_per_mask"], 0),
             ", ".join(f"{part} {share:.0%}" for part, share in f["share"].items())]
            for name, f in figures.items() if isinstance(f, dict)]
    return (table(["runs the passes", f"s per box, RISE {figures['masks']} masks at {figures['image_size']} px",
                   "ms per mask", "where the time goes"], rows)
            + f"\n\nONNX Runtime over torch: {figures['onnxruntime_over_torch']:.2f}x the time per box.\n\n" + source(record))


def fills() -> str:
    """Each fill's cost per curve at 128 and 512 px (the result files that exist)."""
    blocks = []
    for name in ("fills_128px", "fills_512px"):
        if not (RESULTS / f"{name}.json").is_file():
            continue
        record = load(name)
        figures = record["figures"]["fills"]
        rows = [[curve, spread(f["seconds"]), spread(f["over_zeros"]), spread(f["imputation_share"]) if "imputation_share" in f else ""]
                for curve, f in figures["curves"].items()]
        blocks.append(f"At {figures['image_size']} px, steps of {figures['step']} of the image:\n\n"
                      + table(["curve and fill", "s per curve, min / median / max", "over zeros'", "imputation's share"], rows)
                      + "\n\n" + source(record))
    return "\n\n".join(blocks)


def cpu_runtimes() -> str:
    record = load("cpu_runtimes")
    figures = record["figures"]
    rows = []
    for size, arms in figures.items():
        if not isinstance(arms, dict):
            continue
        for arm, f in arms.items():
            if isinstance(f, dict):
                rows.append([size, arm, spread(f["ms_per_image"], 1), spread(f["over_eager"], 2),
                             spread(f["over_channels_last"], 2), f"{f['gflops']:.0f} ({f['share_of_roofline']:.0%})",
                             f"{f['largest_difference_to_eager']:.1e} (of {arms['largest_output_magnitude']:.0f})"])
    return (table(["input", "runtime", "ms per image (batch of 8)", "/ eager", "/ channels_last",
                   f"GFLOP/s (of the {figures['roofline_gflops']:.0f} a large fp32 matmul reaches)",
                   "largest output difference to eager (of the largest output)"], rows) + "\n\n" + source(record))


def peers() -> str:
    record = load("peers")
    figures = record["figures"]
    names = {"gradcam": "pytorch-grad-cam GradCAM", "hirescam": "pytorch-grad-cam HiResCAM", "scorecam": "pytorch-grad-cam ScoreCAM",
             "rise": "xaitk-saliency RISEStack", "drise": "xaitk-saliency DRISEStack"}

    def corr(values: list) -> str:
        defined = [v for v in values if v is not None]
        return f"{min(defined):.3f} / {max(defined):.3f}" if defined else "blank"
    rows = []
    for name, peer in names.items():
        f = figures[name]
        if f["same_inputs"]:
            agreement, own = corr(f["correlation_per_box"]), "-"
        else:
            agreement = corr(f["same_masks_correlation_per_box"])
            own = f"{corr(f['correlation_per_box'])} (ours seed 0 vs 1: {corr(f['seed_to_seed_correlation_per_box'])})"
        rows.append([name, peer, spread(f["ratio"]), agreement, own])
    return (table(["ours", "peer", "time ours / peer, min / median / max", "r, same inputs (least / most)",
                   "r, each with its own masks (least / most)"], rows)
            + f"\n\n{len(figures['detection_scores'])} detections (scores {', '.join(f'{s:.2f}' for s in figures['detection_scores'])}), "
            f"{figures['masks']} masks for RISE and D-RISE.\n\n" + source(record))


def training() -> str:
    throughput, overhead = load("train_throughput"), load("callback_overhead")
    t, o = throughput["figures"], overhead["figures"]
    return table(["what", "min / median / max", "goal"], [
        ["Lightning training steps per second / a bare effdet loop's", spread(t["lightning_over_bare"]), f">= {t['goal']}"],
        ["training time per step in channels_last / the default layout", spread(t["channels_last_time_over_default"]),
         f"<= {t['channels_last_goal']}"],
        ["demo epoch explaining / plain epoch, trained net", spread(o["ratio"]),
         f"amortised over the demo's every_n_epochs={o['demo_every_n_epochs']}: {o['ratio_amortised_over_demo_schedule']:.2f}"],
    ]) + "\n\n" + source(throughput) + "<br>" + source(overhead)


def wandb_media() -> str:
    record = load("wandb_media")
    f, settings = record["figures"], record["settings"]
    what = (f"one explained epoch, {settings['image_size']} px, {f['scenes_explained']} scenes x {len(f['methods'])} methods "
            f"({', '.join(f['methods'])}), cells at {f['media_pixels']} px, figures {f['figure_px'][1]} x {f['figure_px'][0]} px")
    rows = [[f"{what}: synthetic scenes", *(f"{f['short_run'][k]:.2f}" for k in ("figures_mb", "staged_artifacts_mb", "total_mb"))],
            ["the same images, every pixel noise (no real image is larger)",
             *(f"{f['noise_bound'][k]:.2f}" for k in ("figures_mb", "staged_artifacts_mb", "total_mb"))]]
    return table(["W&B run, MB", "figures", "table with its cells", "total with the run's own files"], rows) + "\n\n" + source(record)


def power() -> str:
    record = load("power")
    f = record["figures"]
    rows = [[f"{c['a']} vs {c['b']}", c["metric"].replace("_auc", ""), f"{c['scene_sd']:.3f}", f"{c['within_scene_icc']:.2f}",
             f"{c['boxes_per_scene']:.1f}", c["verdict"], str(c["scenes_needed"]), str(c["scenes_needed_one_box"])]
            for c in f["comparisons"]]
    header = ["primary comparison", "AUC", "scene sd", "within-scene ICC", "boxes / scene", f"verdict at {f['scenes_in_run']} scenes",
              "scenes needed", "at 1 box / scene"]
    return (table(header, rows) + f"\n\nScenes for {f['power']:.0%} power to find a difference of {f['margin']:g} under Holm over "
            f"the {f['family']} primary comparisons: {f['scenes_needed_undecided_max']} for every one this run left undecided, "
            f"{f['scenes_needed_max']} for a difference of the margin on every one (a large difference, like the methods' over "
            f"random, is found far sooner). {f['primary_disagreeing_with_interval']} of the verdicts disagree with the "
            "interval shown beside them.\n\n" + source(record))


RENDERERS: dict[str, Callable[[], str]] = {"demo_seeds": demo_seeds, "table2": table2, "sanity": sanity,
                                           "every_method": every_method, "supported": supported,
                                           "rise_convergence": rise_convergence, "sidu_coverage": sidu_coverage,
                                           "explainer_cost": explainer_cost, "per_box": per_box, "layouts": layouts, "peers": peers,
                                           "cpu_runtimes": cpu_runtimes, "rise_time": rise_time,
                                           "training": training, "wandb_media": wandb_media, "power": power,
                                           "sanity_every_net": sanity_every_net, "spectrum_verdicts": spectrum_verdicts,
                                           "spectrum_contrasts": spectrum_contrasts, "metric_reliability": metric_reliability,
                                           "fills": fills, "demo_spreads": demo_spreads,
                                           "known_cause_methods": known_cause_tables.known_cause_methods,
                                           "known_cause_counts": known_cause_tables.known_cause_counts,
                                           "metric_truth": known_cause_tables.metric_truth,
                                           "metric_pairs": known_cause_tables.metric_pairs,
                                           "negative_controls": known_cause_tables.negative_controls,
                                           "spectrum_truth": known_cause_tables.spectrum_truth}


def render(text: str) -> str:
    def block(match: re.Match) -> str:
        renderers = RENDERERS if match[2] == "results" else TABLES
        return f"{match[1]}{renderers[match[3]]()}\n{match[5]}"
    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = []
    for document in DOCUMENTS:
        text = document.read_text()
        rendered = render(text)
        if args.check:
            stale += [f"{document.name}: {m[3]}" for m, r in zip(BLOCK.finditer(text), BLOCK.finditer(rendered)) if m[4] != r[4]]
        elif rendered != text:
            document.write_text(rendered)
    if stale:
        print(f"tables differ from their result files or the code: {', '.join(stale)} "
              "(python benchmarks/readme_tables.py rewrites them)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
