"""Post-hoc explanation of trained checkpoints (what explain.py runs), in rooms of one job each:
``options`` (what a run is asked for), ``plan`` (the nets loaded and checked, what each explains),
``run`` (the scenes explained, over several processes where asked), ``collect`` (the report's
content, without a disk), ``report`` and ``report_figures`` (tables, figures, report.html),
``wandb_log``, ``output`` (the output folder: checked before work, locked, published whole);
``pipeline`` runs them in order.

For every checkpoint and every spectrum it is evaluated on, the chosen detections (the top one by
default) of one seeded choice of scenes (the same for every net) are explained by every method and
scored. The results become per-box figures, curve plots, ``boxes.csv``, the paper's Table 2
(``summary.csv`` / ``summary.json``), the spectrum attribution table (``attribution.csv``) and a
self-contained ``report.html``.
"""
from .options import RunOptions, explain_options, requested_spectra
from .pipeline import explain_checkpoints
from .plan import image_spectra, user_images

__all__ = ["RunOptions", "explain_checkpoints", "explain_options", "image_spectra", "requested_spectra", "user_images"]
