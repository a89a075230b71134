"""paddle_googlenet: GoogLeNet (Inception v1) for PaddlePaddle.

Paddle itself is an extra, because it comes in two distributions that provide the
same ``paddle`` module: ``paddlepaddle`` (CPU) and ``paddlepaddle-gpu`` (CUDA).
Requiring either one would let pip replace the other, so:

    pip install -e ".[cpu]"        # CPU machines: brings paddlepaddle
    pip install -e .               # GPU machines, after installing paddlepaddle-gpu
    pip install -e ".[cpu,test]"   # to run the tests on a CPU machine
    pip install -e ".[onnx]"       # ONNX export and ONNX Runtime deployment
"""

from setuptools import find_packages, setup

setup(
    name="paddle_googlenet",
    version="0.1.0",
    description="GoogLeNet (Inception v1) for PaddlePaddle, with PaddleClas-style configs",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    # configs/*.yaml travel inside the package as paddle_googlenet/configs, so that
    # "-c googlenet" works from an installed wheel; a clone keeps them at configs/.
    packages=find_packages(include=["paddle_googlenet", "paddle_googlenet.*"])
    + ["paddle_googlenet.configs"],
    package_dir={"paddle_googlenet.configs": "configs"},
    package_data={"paddle_googlenet.configs": ["*.yaml", "**/*.yaml"]},
    python_requires=">=3.9",
    install_requires=[
        "numpy",
        "pyyaml",
        "Pillow",       # image decoding for datasets and prediction
        # JPEG decoding and resizing as PaddleClas does them (the same pixels), and
        # faster per image than PIL; the headless build has no GUI libraries to drag in
        "opencv-python-headless",
        "matplotlib",   # the per-epoch loss/accuracy plot every training run writes
        # weights in .safetensors (tensors only, nothing to execute) are read and
        # written wherever a weights path is accepted, and by googlenet-convert-weights
        "safetensors",
        # the progress bar of long work (eval, predict, infer, calibration, census) on
        # a terminal: width, rate and redraws handled as users of the ecosystem know it
        "tqdm",
    ],
    extras_require={
        "cpu": ["paddlepaddle>=3.0,<4"],
        # PyPI's newest paddlepaddle-gpu is 2.6; Paddle 3 GPU builds come from
        # PaddlePaddle's own package index for each CUDA version (see README).
        "gpu": ["paddlepaddle-gpu>=3.0,<4"],
        # tools/export_model.py --onnx and tools/infer.py --backend onnxruntime
        "onnx": ["paddle2onnx>=2.0", "onnxruntime>=1.16"],
        # the tests check the ONNX export against Paddle Inference, so they need it too;
        # hypothesis generates the inputs that fuzz the weights reader; wheel builds
        # the package's wheel (tests/test_wheel.py) without fetching a build backend;
        # pytest-xdist runs test files on every core (most tests use one thread)
        "test": ["pytest", "pytest-xdist>=3", "hypothesis>=6", "paddle2onnx>=2.0",
                 "onnxruntime>=1.16", "wheel"],
    },
    entry_points={
        "console_scripts": [
            "googlenet-train=paddle_googlenet.cli.train:main",
            "googlenet-eval=paddle_googlenet.cli.eval:main",
            "googlenet-predict=paddle_googlenet.cli.predict:main",
            "googlenet-export=paddle_googlenet.cli.export:main",
            "googlenet-make-demo-data=paddle_googlenet.cli.make_demo_data:main",
            "googlenet-summary=paddle_googlenet.cli.summary:main",
            "googlenet-infer=paddle_googlenet.cli.infer:main",
            "googlenet-convert-weights=paddle_googlenet.cli.convert:main",
            "googlenet-paddleclas-census=paddle_googlenet.cli.census:main",
            "googlenet-make-imagenet-lists=paddle_googlenet.cli.imagenet_lists:main",
        ],
    },
)
