"""``python -m placement ...``: the ``placement`` command, for environments without its script
on the PATH (a notebook's kernel, a venv that is not activated)."""

from placement.cli import main

if __name__ == "__main__":
    main(prog_name="placement")
