"""The image encoder of SAC and DisCor on pixels, and its random-shift augmentation.

:class:`PixelEncoder` maps a flat observation ``[pixels, vector]``
(:class:`acgym.rl.pixels.PixelLayout`) to ``[features, vector]``: the stacked images,
scaled to [-0.5, 0.5], go through a small convolutional network (``encoder_channels``
3x3 convolutions, each stride 2, ReLU) and a linear layer with layer norm and tanh to
``encoder_feature_dim`` features (the trunk of SAC-AE, Yarats et al. 2021 and DrQ-v2,
Yarats et al. 2022), and the vector part is appended unchanged. Strided convolutions
keep an update affordable on a CPU (64 x 64: 31, 15, 7 pixels after each layer).

:func:`random_shift`: DrQ's augmentation, each image of a batch shifted by up to
``pad`` pixels in each direction (edges replicated), independently per sample; used on
the observations and the next observations of every update, never when acting.

The encoder is trained through the critic's loss only; the actor sees its features
detached (DrQ-v2): see :class:`acgym.rl.pixel_sac.PixelSAC`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from acgym.rl.pixels import PixelLayout


def random_shift(images: Tensor, pad: int, generator: torch.Generator | None = None) -> Tensor:
    """Shift each image of ``(B, C, H, W)`` by integers in ``[-pad, pad]`` (edges
    replicated): DrQ's random shift (one slice per image: cheaper on a CPU than a
    gather or a sampling grid)."""
    if pad <= 0:
        return images
    height, width = images.shape[-2:]
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    shifts = torch.randint(0, 2 * pad + 1, (len(images), 2), generator=generator).tolist()
    return torch.stack(
        [padded[i, :, r : r + height, c : c + width] for i, (r, c) in enumerate(shifts)]
    )


class PixelEncoder(nn.Module):
    """Flat ``[pixels, vector]`` -> ``[features, vector]`` (see the module docstring).

    Args:
        layout: Where the pixels and the vector are.
        channels: Output channels of each 3x3, stride-2 convolution.
        feature_dim: Features of the image.
    """

    def __init__(self, layout: PixelLayout, channels: Sequence[int], feature_dim: int) -> None:
        super().__init__()
        self.layout = layout
        in_channels, height, width = layout.stacked_shape
        layers: list[nn.Module] = []
        for out_channels in channels:
            layers += [nn.Conv2d(in_channels, out_channels, 3, stride=2), nn.ReLU()]
            in_channels = out_channels
            height, width = (height - 3) // 2 + 1, (width - 3) // 2 + 1
        if height < 1 or width < 1:
            raise ValueError(
                f"images of {layout.stacked_shape} are too small for {len(channels)} layers"
            )
        self.convs = nn.Sequential(*layers)
        self.trunk = nn.Sequential(
            nn.Linear(in_channels * height * width, feature_dim),
            nn.LayerNorm(feature_dim),
            nn.Tanh(),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):  # DrQ-v2: orthogonal, gain of ReLU
                nn.init.orthogonal_(module.weight, math.sqrt(2.0))
                nn.init.zeros_(module.bias)
        self.out_dim = feature_dim + layout.vector_dim

    def split(self, flat: Tensor) -> tuple[Tensor, Tensor]:
        """``(images (B, k*C, H, W) in 0..255, vector (B, V))`` of flat observations."""
        pixels = flat[:, : self.layout.pixel_dim].reshape(-1, *self.layout.stacked_shape)
        return pixels, flat[:, self.layout.pixel_dim :]

    def forward(
        self, flat: Tensor, shift_px: int = 0, generator: torch.Generator | None = None
    ) -> Tensor:
        """Features of flat observations ``(B, flat_dim)`` -> ``(B, out_dim)``; with
        ``shift_px`` the images are randomly shifted first (training)."""
        pixels, vector = self.split(flat)
        images = random_shift(pixels / 255.0 - 0.5, shift_px, generator)
        images = images.contiguous(memory_format=torch.channels_last)  # faster convolutions
        features = self.trunk(self.convs(images).flatten(1))
        return torch.cat([features, vector], dim=-1)
