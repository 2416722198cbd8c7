"""Scenes rendered again: without a change, the written bytes; with one, that change's pixels and
nothing else's, in the spectra it names."""
import hashlib

import cv2
import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from spectral_xai.data_modules import layout
from spectral_xai.data_modules.render import SPECTRA, Change, render
from spectral_xai.data_modules.layout import SCENES
from spectral_xai.data_modules.synthetic import write_png, write_synthetic_dataset, written_scene

# The writer's bytes for 6 scenes of seed 3 (images, annotations, conditions, check images), as the
# writer wrote them before scenes and their rendering were split apart (commit ccfee81): no
# written dataset may change. The scene descriptions are new beside them.
WRITTEN_BEFORE = "804816ef6a8ef5821bc696b9634af22f66d79d5a83fbc4280323416cf7cd49b6"
# How far FIR's and MIR's blur (sigma 1.6 and 1.0, OpenCV's kernel of 8 sigma + 1) carries a change.
BLUR_REACH = {"fir": 7, "mir": 4, "rgb": 0, "nir": 0}


def scene_with(name: str, seed: int = 0):
    """The first written scene of ``seed`` that holds an object of class ``name``, and its index."""
    for index in range(200):
        scene = written_scene(seed, index)
        for i, obj in enumerate(scene.objects):
            if obj.name == name:
                return scene, i
    raise AssertionError(f"no {name} in 200 scenes")


def test_the_writer_writes_the_bytes_it_wrote_before_scenes_were_split_from_their_images(tmp_path):
    root = write_synthetic_dataset(tmp_path, num_scenes=6, seed=3)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name != SCENES):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    assert digest.hexdigest() == WRITTEN_BEFORE


def test_a_scene_rendered_again_without_a_change_is_its_written_images_byte_for_byte(tmp_path):
    root = write_synthetic_dataset(tmp_path / "data", num_scenes=4, seed=5, sixteen_bit_fir_every=2)
    for index in range(4):
        images = render(written_scene(5, index))
        for spectrum in SPECTRA:
            again = tmp_path / "again" / f"{spectrum}{index}.png"
            write_png(again, images[spectrum], sixteen_bit=spectrum == "fir" and index % 2 == 0)
            written = layout.image_path(root, layout.CONVERTED_IMAGES, spectrum, f"{index:06d}")
            assert again.read_bytes() == written.read_bytes(), (index, spectrum)


def changed_pixels(before: dict, after: dict, spectrum: str) -> np.ndarray:
    difference = np.abs(after[spectrum] - before[spectrum])
    return (difference.max(axis=-1) if difference.ndim == 3 else difference) > 0


@pytest.mark.parametrize("name, part", [("car_stop", "wheels"), ("person", "head"), ("bike", "frame"),
                                        ("color_cone", "stripe")])
def test_removing_a_part_changes_its_pixels_alone_and_in_the_blurred_spectra_their_reach(name, part):
    scene, target = scene_with(name)
    before, after = render(scene), render(scene, Change("part", target, part))
    mask = scene.objects[target].part(part).mask
    for spectrum in SPECTRA:
        changed = changed_pixels(before, after, spectrum)
        reach = (binary_dilation(mask, np.ones((3, 3), bool), iterations=BLUR_REACH[spectrum]) if BLUR_REACH[spectrum]
                 else mask)  # a separable kernel reaches a square
        # Each of these parts has a colour of its own; its heat and reflectance may be what lies behind it.
        assert changed.any() or spectrum != "rgb"
        assert not (changed & ~reach).any(), f"{spectrum}: {int((changed & ~reach).sum())} pixels beyond the part"


def test_a_running_cars_cue_off_cools_its_hood_and_darkens_its_glow_in_the_spectra_named():
    scene, target = scene_with("car")
    car = scene.objects[target]
    before = render(scene)
    everywhere = render(scene, Change("cue", target))
    hood = car.part("hood").mask
    assert everywhere["fir"][hood].mean() < before["fir"][hood].mean() - 0.05  # engine heat gone
    light = np.zeros(scene.size, np.uint8)
    for x, y, r in car.lights:
        cv2.circle(light, (x, y), r, 1, -1)
    assert everywhere["rgb"][light > 0].mean() < before["rgb"][light > 0].mean()  # headlights off
    only_mir = render(scene, Change("cue", target, spectra=("mir",)))
    assert changed_pixels(before, only_mir, "mir").any()
    assert all(np.array_equal(only_mir[s], before[s]) for s in ("rgb", "nir", "fir"))


def test_removing_an_object_shows_what_lies_behind_it_and_another_noise_seed_keeps_the_effect():
    scene, target = scene_with("person")
    obj = scene.objects[target]
    union = np.any([p.mask for p in obj.parts], axis=0)
    removed = render(scene, Change("object", target))
    assert changed_pixels(render(scene), removed, "rgb")[union].mean() > 0.5
    effect = render(scene)["fir"][union].mean() - removed["fir"][union].mean()
    other = render(scene, noise_seed=1)["fir"][union].mean() - render(scene, Change("object", target), noise_seed=1)["fir"][union].mean()
    assert effect > 0.1 and other == pytest.approx(effect, abs=0.01)


def test_a_change_that_names_nothing_the_scene_has_is_refused():
    scene, target = scene_with("car_stop")
    with pytest.raises(KeyError, match="no part 'wings'"):
        render(scene, Change("part", target, "wings"))
    with pytest.raises(ValueError, match="no running engine"):
        render(scene, Change("cue", target))
    with pytest.raises(IndexError, match="the scene has"):
        render(scene, Change("object", 99))
    with pytest.raises(ValueError, match="names its part"):
        Change("part", target)
    with pytest.raises(ValueError, match="choose among"):
        Change("object", target, spectra=("uv",))


def test_on_known_cause_data_a_running_car_with_its_cue_off_is_the_same_car_parked():
    from spectral_xai.data_modules.draw import _car
    from spectral_xai.data_modules.render import cue_off

    running, parked = (_car(np.random.default_rng(0), 160, 200, 70, (256, 320), running=r, ambient=0.28, known_cause=True)
                       for r in (True, False))
    cooled = cue_off(running)
    assert cooled.lights == parked.lights == [] and running.lights
    for a, b in zip(cooled.parts, parked.parts):
        assert a.name == b.name and a.material == b.material and np.array_equal(a.mask, b.mask)
    # Without known_cause, a running car is warm all over: the cue is not the only difference.
    warm = _car(np.random.default_rng(0), 160, 200, 70, (256, 320), running=True, ambient=0.28)
    assert warm.part("lower").material.temperature > parked.part("lower").material.temperature + 0.3
