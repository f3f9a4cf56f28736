"""Executes notebooks headless (nbclient) and fails on the first cell that raises.

    python notebooks/run.py OUTPUT_DIR NOTEBOOK.ipynb...

Each executed notebook, outputs included, is written to OUTPUT_DIR under its own name; the
notebooks read their inputs from SPAMGEO_* environment variables.
"""
import os
import sys

import nbformat
from nbclient import NotebookClient


def main(out_dir, paths):
    os.makedirs(out_dir, exist_ok=True)
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": out_dir}}).execute()
        nbformat.write(nb, os.path.join(out_dir, os.path.basename(path)))
        print("executed", path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
