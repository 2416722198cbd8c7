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

if __name__ == "__main__":
    try:  # Ctrl-C while the libraries load, before main's own handling: the same one line
        from spectral_xai.explain_cli import main
    except KeyboardInterrupt:
        print("explain.py: interrupted; an unfinished run writes nothing to its output", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())
