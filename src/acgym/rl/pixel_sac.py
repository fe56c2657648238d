"""SAC and DisCor on pixels: the agents with an image encoder (DrQ-v2 style).

:class:`PixelSAC` and :class:`PixelDisCor` are SAC and DisCor whose networks read the
features of :class:`acgym.rl.encoder.PixelEncoder` instead of the flat observation:

* every update encodes the batch's observations with a random shift of up to
  ``agent.image_shift_px`` pixels, and its next observations (shifted too) without
  gradients; the critics (and DisCor's error networks) learn on the features and their
  loss trains the encoder (its parameters are in the critic's optimizer, at
  ``agent.critic_lr``); the actor sees the features detached (Yarats et al. 2022);
* acting encodes the unshifted observation;
* the replay keeps the pixels as bytes (:class:`acgym.rl.pixel_replay.PixelReplay`);
* checkpoints hold the encoder beside the other networks.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from acgym.errors import ConfigError
from acgym.rl.config import AgentConfig
from acgym.rl.discor import DisCor
from acgym.rl.encoder import PixelEncoder
from acgym.rl.pixel_replay import PixelReplay, fitting_capacity
from acgym.rl.pixels import PixelLayout
from acgym.rl.replay import ReplayBatch
from acgym.rl.sac import SAC


class _PixelAgent:
    """What SAC and DisCor on pixels add to their base (see the module docstring)."""

    pixels: PixelLayout
    encoder: PixelEncoder
    config: AgentConfig

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: AgentConfig | None = None,
        *,
        pixels: PixelLayout,
        num_envs: int = 1,
        **kwargs: Any,
    ) -> None:
        config = config or AgentConfig()
        if obs_dim != pixels.flat_dim:
            raise ConfigError(
                f"pixel agent: obs_dim {obs_dim}, but the layout has {pixels.flat_dim}"
            )
        if config.use_offline_replay:
            raise ConfigError(
                "agent.use_offline_replay: recorded laps hold no images; train from pixels "
                "without offline data (agent.use_offline_replay=false)"
            )
        self.pixels = pixels
        if kwargs.get("replay") is None:
            capacity = fitting_capacity(config.replay_size, pixels, action_dim)
            kwargs["replay"] = PixelReplay(
                pixels, capacity, action_dim, config.gamma, config.n_step, num_envs,
                seed=config.seed + 1, device=config.torch_device(),
            )  # fmt: skip
        super().__init__(obs_dim, action_dim, config, num_envs=num_envs, **kwargs)  # type: ignore[call-arg]

    def _build_networks(self) -> None:
        config = self.config
        self.encoder = PixelEncoder(
            self.pixels, config.encoder_channels, config.encoder_feature_dim
        ).to(config.torch_device())
        super()._build_networks()  # type: ignore[misc]

    @property
    def input_dim(self) -> int:
        """The networks read the encoder's output."""
        return self.encoder.out_dim

    def _critic_groups(self) -> list[dict[str, Any]]:
        groups = super()._critic_groups()  # type: ignore[misc]
        return [*groups, {"params": list(self.encoder.parameters()), "lr": self.config.critic_lr}]

    def _modules(self) -> dict[str, Any]:
        return {**super()._modules(), "encoder": self.encoder}  # type: ignore[misc]

    def encode_batch(self, batch: ReplayBatch) -> tuple[ReplayBatch, Tensor]:
        """Shifted features of the observations (with gradients: the critic's loss trains
        the encoder) and of the next observations (without); the actor's are detached."""
        import torch

        shift, generator = self.config.image_shift_px, self.generator  # type: ignore[attr-defined]
        features = self.encoder(batch.observations, shift, generator)
        with torch.no_grad():
            next_features = self.encoder(batch.next_observations, shift, generator)
        encoded = batch._replace(observations=features, next_observations=next_features)
        return encoded, features.detach()

    def encode_observations(self, obs: Tensor) -> Tensor:
        """Features of unshifted observations (acting)."""
        return self.encoder(obs)


class PixelSAC(_PixelAgent, SAC):
    """SAC with an image encoder (``pixels``: the observations' layout)."""


class PixelDisCor(_PixelAgent, DisCor):
    """DisCor with an image encoder (``pixels``: the observations' layout)."""


def agent_class(algorithm: str, pixels: PixelLayout | None) -> type[SAC]:
    """The agent class of ``algorithm`` (``sac``, ``discor``), on pixels or not."""
    if pixels is None:
        return DisCor if algorithm == "discor" else SAC
    return PixelDisCor if algorithm == "discor" else PixelSAC
