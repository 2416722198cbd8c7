"""A synthetic twin of the Multispectral Object Detection Dataset, written in its on-disk layout.

Scenes are drawn once as descriptions (:mod:`~spectral_xai.data_modules.draw`: objects made of
parts with their materials) and imaged by four simulated cameras
(:mod:`~spectral_xai.data_modules.render`), so the spectra differ the way the physics does. The
reader in :mod:`spectral_xai.data_modules.reader` treats these files like the real ones.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from . import layout
from .draw import draw_scene
from .render import Scene, SceneObject, cue_off, render
from .scene_files import write_scene
from .voc import write_voc


def stored(image: np.ndarray, sixteen_bit: bool = False) -> np.ndarray:
    """One spectrum's image in [0, 1] as the dataset stores it (OpenCV's channel order): 8-bit, or
    FIR's 16-bit radiometric counts in a narrow band of the range, like a real thermal core."""
    if image.ndim == 3:
        image = image[:, :, ::-1]  # OpenCV writes BGR
    if sixteen_bit:
        return (27000 + image * 6000).astype(np.uint16)
    return (image * 255 + 0.5).astype(np.uint8)


def write_png(path: Path, image: np.ndarray, sixteen_bit: bool = False) -> None:
    """One spectrum's image in [0, 1] written as the dataset stores it (:func:`stored`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), stored(image, sixteen_bit)):
        raise OSError(f"{path}: could not be written")


#: The most pixels an object moves from one frame of a sequence to the next.
MOTION = 3.0


def written_scene(seed: int, index: int, known_cause: bool = False, frames_per_sequence: int = 1) -> Scene:
    """The scene :func:`write_synthetic_dataset` drew for image ``index`` under ``seed``: rendered
    without a change it gives the written images, byte for byte."""
    return _frame(seed, index, known_cause, frames_per_sequence)[0]


def _frame(seed: int, index: int, known_cause: bool, frames_per_sequence: int) -> tuple[Scene, np.random.Generator]:
    """Image ``index``'s scene and the stream its noise (and the writer's later draws) come from. A
    scene of its own per image; in sequences, one scene per run of ``frames_per_sequence`` images,
    each object moving sideways at its own speed from frame to frame, under new noise each frame."""
    w, h = layout.CONVERTED_SIZE_WH
    if frames_per_sequence == 1:
        rng = np.random.default_rng([seed, index])
        return draw_scene(rng, (h, w), known_cause), rng
    sequence, frame = divmod(index, frames_per_sequence)
    scene = draw_scene(np.random.default_rng([seed, sequence]), (h, w), known_cause)
    speeds = np.random.default_rng([seed, sequence, frames_per_sequence]).uniform(-MOTION, MOTION, len(scene.objects))
    rng = np.random.default_rng([seed, sequence, frames_per_sequence, frame + 1])
    objects = [_moved(o, round(speed * frame), w) for o, speed in zip(scene.objects, speeds)]
    return replace(scene, objects=objects, noise_state=rng.bit_generator.state), rng


def _moved(thing: SceneObject, dx: int, width: int) -> SceneObject:
    """The object ``dx`` pixels to the side, stopped short of the image's edges."""
    x1, y1, x2, y2 = thing.box
    dx = int(np.clip(dx, 1 - x1, width - 1 - x2))
    parts = [replace(p, mask=np.roll(p.mask, dx, axis=1)) for p in thing.parts]  # nothing of it wraps: it stays inside
    return replace(thing, box=(x1 + dx, y1, x2 + dx, y2), parts=parts, lights=[(x + dx, y, r) for x, y, r in thing.lights])


def write_synthetic_dataset(
    root: str | Path,
    num_scenes: int = 200,
    seed: int = 0,
    sixteen_bit_fir_every: int = 3,
    vis_ok_fraction: float = 0.25,
    known_cause: bool = False,
    cue_free: bool = False,
    frames_per_sequence: int = 1,
) -> Path:
    """Write ``num_scenes`` scenes under ``root`` in the real dataset's converted layout.

    Every ``sixteen_bit_fir_every``-th FIR image is a 16-bit single-channel PNG, the rest 8-bit;
    NIR and MIR are 8-bit single channel, RGB 8-bit three channels. About ``vis_ok_fraction`` of
    the ids get a ``vis_ok`` check image. ``conditions.csv`` gives each scene's ``id,condition``
    (day or night), and ``Scenes/`` each scene's description (:mod:`~spectral_xai.data_modules.scene_files`),
    which the real dataset does not ship. The same arguments write the same bytes. ``known_cause``:
    running (``car``) and parked (``car_stop``) cars alike in every part but a cue of known place
    and spectra, a hot hood (MIR, FIR) and headlights (RGB, NIR, strongest at night), so that a net
    that tells them apart must use it (whether it does is measured by the known causes, never assumed).
    ``cue_free`` (with ``known_cause``): the same scenes under the same noise with every running car's
    cue off, so running and parked cars cannot be told apart: a net trained on it cannot have learnt
    the cue, the control for whether the known causes find an effect where none can be.
    ``frames_per_sequence`` > 1: the images come in runs of that many frames of one scene, its objects
    moving a little from frame to frame under new sensor noise, as the real dataset's frames shot a
    second apart do; ``sequences.csv`` names each frame's run (the ids run on from one to the next).
    """
    if frames_per_sequence < 1:
        raise ValueError(f"frames_per_sequence {frames_per_sequence}: give at least 1")
    if cue_free and not known_cause:
        raise ValueError("cue_free switches the cue off on known-cause data: give known_cause too")
    root = Path(root)
    w, h = layout.CONVERTED_SIZE_WH
    conditions, sequences = ["id,condition"], ["sample_id,sequence"]
    for index in range(num_scenes):
        sample_id = f"{index:06d}"
        scene, rng = _frame(seed, index, known_cause, frames_per_sequence)
        if cue_free:
            scene = replace(scene, objects=[cue_off(o) if o.running else o for o in scene.objects])
        conditions.append(f"{sample_id},{'night' if scene.night else 'day'}")
        sequences.append(f"{sample_id},{index // frames_per_sequence:06d}")
        spectra = render(scene, noise=rng)  # the writer's stream goes on past the noise
        write_scene(root, sample_id, scene)
        for spectrum, image in spectra.items():
            sixteen = spectrum == "fir" and sixteen_bit_fir_every > 0 and index % sixteen_bit_fir_every == 0
            write_png(layout.image_path(root, layout.CONVERTED_IMAGES, spectrum, sample_id), image, sixteen)
        boxes = np.asarray([o.box for o in scene.objects], np.float32).reshape(-1, 4)
        write_voc(layout.annotation_path(root, layout.CONVERTED_ANNOTATIONS, sample_id), f"{sample_id}.png",
                  (w, h), boxes, [o.name for o in scene.objects])
        if rng.random() < vis_ok_fraction:
            check = spectra["rgb"].copy()
            for x1, y1, x2, y2 in boxes.astype(int):
                cv2.rectangle(check, (x1, y1), (x2, y2), (0.0, 1.0, 0.0), 1)
            write_png(root / layout.VIS_OK / f"{sample_id}.png", check)
    (root / "conditions.csv").write_text("\n".join(conditions) + "\n")
    if frames_per_sequence > 1:
        (root / layout.SEQUENCES).write_text("\n".join(sequences) + "\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=write_synthetic_dataset.__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--num-scenes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--known-cause", action="store_true", help="running and parked cars differ only by their cue")
    parser.add_argument("--cue-free", action="store_true",
                        help="with --known-cause: the same scenes with every cue off (running and parked cars alike)")
    parser.add_argument("--frames-per-sequence", type=int, default=1,
                        help="write runs of this many frames of one scene, its objects moving (the real data's sequences)")
    args = parser.parse_args()
    if args.cue_free and not args.known_cause:
        parser.error("--cue-free switches the cue off on known-cause data: give --known-cause too")
    write_synthetic_dataset(args.root, args.num_scenes, args.seed, known_cause=args.known_cause, cue_free=args.cue_free,
                            frames_per_sequence=args.frames_per_sequence)
    print(f"wrote {args.num_scenes} scenes to {args.root}")


if __name__ == "__main__":
    main()
