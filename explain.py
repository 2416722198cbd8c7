"""Explain the top detection of dataset images with trained checkpoints; write figures, tables, a report.

    python explain.py --checkpoints '[runs/demo/checkpoints/last.ckpt]' --output outputs/explain
    python explain.py --config my_explain.yaml        # the same arguments from a YAML file
    python explain.py --help

By default each checkpoint is evaluated on its own data settings (dataset root, split, spectra) and
the test part of its split; a mixed RGB+MIR net is applied to each spectrum alone.
"""
from jsonargparse import CLI

from spectral_xai.posthoc import explain_checkpoints


def main() -> None:
    folder = CLI(explain_checkpoints, as_positional=False)
    print(f"wrote {folder / 'report.html'}")


if __name__ == "__main__":
    main()
