"""Process setup: device, CPU threads (Paddle's and OpenCV's), CPU fast paths, the
process group and seeds.

Done once, first: MKL reads its kernel choice at its first call, and the seed must
be set before any parameter is drawn.
"""

from dataclasses import dataclass, field
from typing import List, Optional

import paddle

from ..image_io import set_opencv_threads
from .fast_paths import keep_freed_memory, use_fast_conv_bias, use_mkl_avx2_on_amd
from .runtime import seed_everything, select_device, set_cpu_threads, world_size

__all__ = ["ProcessSetup", "set_up_process"]


@dataclass
class ProcessSetup:
    """What ``set_up_process`` chose, for the run's log line."""

    device: str
    threads: Optional[int]            # CPU threads (None on a GPU)
    fast: bool                        # CPU fast paths asked for and applicable
    fast_paths: List[str] = field(default_factory=list)  # the ones in use
    static_graph: bool = False        # Global.to_static: the network is traced

    def speed_up(self, network):
        """Apply the fast paths that work on a built network. The convolution one
        replaces dygraph forwards, which tracing cannot take (nor needs)."""
        if self.fast and not self.static_graph and use_fast_conv_bias(network):
            self.fast_paths.append("GEMM convolution bias")

    def describe(self) -> str:
        return (f"device: {self.device}"
                + (f", {self.threads} CPU threads" if self.threads else "")
                + (f" ({', '.join(self.fast_paths)})" if self.fast_paths else "")
                + f", {world_size()} process(es)")


def set_up_process(global_config: dict) -> ProcessSetup:
    """Select the device and threads, turn on the CPU fast paths, join the process
    group of a multi-process launch and seed every generator."""
    g = global_config
    set_opencv_threads()
    device = select_device(g["device"])
    threads = set_cpu_threads(g["num_threads"]) if device == "cpu" else None
    fast = device == "cpu" and g["cpu_fast_paths"]
    setup = ProcessSetup(device, threads, fast, static_graph=g["to_static"])
    if fast and use_mkl_avx2_on_amd():
        setup.fast_paths.append("MKL AVX2 kernels")
    if fast and keep_freed_memory():
        setup.fast_paths.append("freed memory kept for reuse")
    if world_size() > 1:
        paddle.distributed.init_parallel_env()
    seed_everything(g["seed"])
    return setup
