"""Explain the top detection of dataset images with trained checkpoints; write figures, tables, a report.

    python explain.py runs/demo/checkpoints/last.ckpt --output outputs/explain
    python explain.py 'runs/*/checkpoints/last.ckpt' --output outputs/all     # a glob, quoted
    python explain.py --config my_explain.yaml        # the same arguments from a YAML file
    python explain.py --help

By default each checkpoint is evaluated on its own data settings (dataset root, split, spectra) and
the test part of its split; a mixed RGB+MIR net is applied to each spectrum alone. A mistake in the
arguments or the inputs is one line naming the file and the problem, exit code 2, and no output.
"""
import sys

from spectral_xai.loading import interruptible_loading

if __name__ == "__main__":
    with interruptible_loading("explain.py: interrupted; an unfinished run writes nothing to its output"):
        from spectral_xai.explain_cli import main
    sys.exit(main())
