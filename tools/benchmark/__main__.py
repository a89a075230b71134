"""python -m tools.benchmark (from a clone's root), the same as python tools/benchmark.py."""
import sys

from .harness import main

sys.exit(main())
