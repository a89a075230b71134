"""python tools/make_imagenet_lists.py --help"""
import os
import sys

# Run from a clone without installing, as PaddleClas's tools do.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddle_googlenet.cli.imagenet_lists import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
