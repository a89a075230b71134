"""python tools/benchmark.py --help

The benchmark is the package beside this file (tools/benchmark/); it imports the
installed paddle_googlenet.
"""
import sys

# Python puts this file's folder first on sys.path, so ``benchmark`` is the package
# tools/benchmark/ (a package directory wins over a module of the same name).
from benchmark.harness import main

if __name__ == "__main__":
    sys.exit(main())
