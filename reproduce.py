"""Reproduce the paper's comparison: train the RGB, NIR, MIR, FIR and RGB+MIR nets on one split of
scenes, then explain them all (Table 2, spectrum attribution, scene grids, report.html).

    python reproduce.py --config configs/reproduce_demo.yaml                  # synthetic data, CPU
    python reproduce.py --config configs/reproduce_demo.yaml --root /data/ir_det_dataset
"""
from spectral_xai.train_cli import log_progress
from spectral_xai.reproduce import main

if __name__ == "__main__":
    log_progress()
    main()
