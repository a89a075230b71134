"""The paper's two local response normalisations in the stem (Szegedy et al. 2014,
Figure 3: after the first max pool, and after the 3x3 convolution, before the second
max pool), for ``GoogLeNet(lrn=True)``.

``paddle.nn.LocalResponseNorm`` computes ``x / (k + alpha / size * sum(x^2))^beta``
over ``size`` neighbouring channels: it divides ``alpha`` by the window as Caffe's
LRN layer does (not as the AlexNet paper writes it), so Paddle's defaults, size 5,
alpha 1e-4, beta 0.75, k 1, are the values of the released Caffe GoogLeNet
(bvlc_googlenet's ``lrn_param``: local_size 5, alpha 0.0001, beta 0.75, k 1).
"""

from typing import List

from paddle import nn

__all__ = ["LRN_SIZE", "Then", "local_response_norm", "with_local_response_norms"]

LRN_SIZE = 5


class Then(nn.Layer):
    """Two parameter-free layers one after the other, kept as one layer of the stem
    (an ``nn.Sequential`` would be spliced into it and shift the index, and so the
    parameter names, of every convolution after it)."""

    def __init__(self, first: nn.Layer, second: nn.Layer):
        super().__init__()
        self.first, self.second = first, second

    def forward(self, x):
        return self.second(self.first(x))


def local_response_norm() -> nn.LocalResponseNorm:
    return nn.LocalResponseNorm(LRN_SIZE, alpha=1e-4, beta=0.75, k=1.0)


def with_local_response_norms(stem: List[nn.Layer]) -> List[nn.Layer]:
    """The stem's blocks ``[conv 7x7, max pool, conv 1x1, conv 3x3, max pool]`` with
    a normalisation after the first pool and one before the second: the same
    parameters under the same names."""
    conv7, pool1, conv1, conv3, pool2 = stem
    return [conv7, Then(pool1, local_response_norm()), conv1, conv3,
            Then(local_response_norm(), pool2)]
