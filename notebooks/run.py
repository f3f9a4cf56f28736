"""Executes notebooks headless (nbclient) and fails on the first cell that raises.

    python notebooks/run.py OUTPUT_DIR NOTEBOOK.ipynb...

Each notebook runs in its own directory, as Jupyter runs it (so it imports spamgeo_data), reads
its parameters from the SPAMGEO_* environment variables its first code cell names, and is
written to OUTPUT_DIR under its own name with its outputs, without timing metadata.
"""
import os
import sys

import nbformat
from nbclient import NotebookClient


def main(out_dir, paths):
    os.makedirs(out_dir, exist_ok=True)
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}}).execute()
        nbformat.write(nb, os.path.join(out_dir, os.path.basename(path)))
        print("executed", path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
