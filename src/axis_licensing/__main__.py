"""``python -m axis_licensing``: the ``axis-licensing`` command line."""

from axis_licensing.cli import main

if __name__ == "__main__":  # pragma: no cover
    main(prog_name="axis-licensing")
