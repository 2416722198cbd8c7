"""The report as a reader gets it: opened in a real headless Chromium (Debian's chromium and
chromium-driver, through Selenium) at 1400 px, from a real explain run of the trained net with more
methods than fit one figure row."""
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.posthoc import explain_checkpoints
from spectral_xai.reporting.figures import MAX_COLUMNS

# Eight methods with the two baselines: a scene grid's box wraps onto two rows of panels.
METHODS = ["gradcam", "gradcam_norelu", "hirescam", "xgradcam", "layercam", "gradient"]
WIDTH = 1400
MIN_PANEL_PX = 160
MAX_REPORT_BYTES = 5_000_000


@pytest.fixture(scope="module")
def report(trained_checkpoint, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "explain"
    settings = ExplainSettings(METHODS, step=0.5, targets="detections,missed", bootstrap_resamples=100)
    return explain_checkpoints([trained_checkpoint], settings, output=out, num_images=2, scene_grids=2, sanity_check=True,
                               sanity_images=1, accelerator="cpu")


def test_the_report_links_its_figures_and_is_small(report, trained_checkpoint):
    html = (report / "report.html").read_text()
    net = trained_checkpoint.parent.parent.name  # a net is named by its run folder
    assert "data:image/png" not in html and (report / "report.html").stat().st_size < MAX_REPORT_BYTES
    for png in report.glob("**/*.png"):
        if png.parent.name != "curves":  # each method's own curve figure stays a file, named in the page
            assert f'href="{png.relative_to(report).as_posix()}"' in html, png
    for section in ("Contents", "What these numbers support", "Settings", "Methods compared",
                    "Which spectrum is explained better", "Curves",
                    "What each spectrum sees", "Sanity check", "Scenes", "Explained boxes"):
        assert f">{section}</" in html, section
    for setting in ("scoring rule", "targets", "scene seed", f"checkpoint {net}", "spectral-xai 0.1.0",
                    "<td>method gradcam</td><td>layer class_net.predict, relu True</td>", "<td>method random</td><td>grid 8, seed 0</td>"):
        assert setting in html, setting
    assert re.search(r"epoch \d+; val/map 0\.\d+; spectra mir", html)  # the checkpoint's own record
    plots = {p.name for p in (report / "plots").glob("*.png")}
    assert plots >= {f"{net}_mir_curves.png", f"{net}_mir_methods.png", f"{net}_mir_sanity.png"}, plots


def test_scene_grids_wrap_so_that_panels_stay_legible(report):
    for grid in (report / "scenes").glob("*.png"):
        width = Image.open(grid).width
        # At most MAX_COLUMNS panels a row, shown at most as wide as the page's content (1400 px less margins).
        assert min(width, WIDTH - 100) / MAX_COLUMNS >= MIN_PANEL_PX, (grid.name, width)


def _browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "the browser test needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={WIDTH},1000", "--allow-file-access-from-files"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.mark.slow
def test_the_report_opens_in_a_real_browser_without_overflow_broken_images_or_errors(report):
    browser = _browser()
    try:
        browser.get((report / "report.html").resolve().as_uri())
        browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth, i.clientWidth])")
        assert images and all(complete and natural > 0 for _, complete, natural, _ in images), images
        inner = browser.execute_script("return window.innerWidth")
        assert inner <= WIDTH
        # Nothing makes the page scroll sideways: wide tables scroll inside their own boxes.
        assert browser.execute_script("return document.documentElement.scrollWidth") <= inner
        outside = browser.execute_script("""
            return Array.from(document.querySelectorAll('body *')).filter(e => {
                if (e.closest('.scroll')) return false;
                return e.getBoundingClientRect().right > window.innerWidth + 1;
            }).map(e => e.tagName + ' ' + (e.id || e.className || ''));""")
        assert not outside, outside
        # Every section the contents lists exists.
        targets = browser.execute_script(
            "return Array.from(document.querySelectorAll('nav a')).map(a => [a.hash, !!document.getElementById(a.hash.slice(1))])")
        assert len(targets) >= 8 and all(found for _, found in targets), targets
        # Scene grids are shown with panels of at least 160 px.
        for src, _, natural, shown in images:
            if src.startswith("scenes/"):
                assert shown / MAX_COLUMNS >= MIN_PANEL_PX and shown <= natural, (src, shown)
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        browser.quit()
