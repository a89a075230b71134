"""python tools/infer.py --model_dir DIR IMAGE... (see --help)

Runs an exported model with Paddle Inference (or ONNX Runtime); imports only
paddle_googlenet.deploy, never the training code."""
import os
import sys

# Run from a clone without installing, as PaddleClas's tools do.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddle_googlenet.cli.infer import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
