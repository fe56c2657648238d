"""Configuration of the learner (:class:`AgentConfig`) and of the training loop
(:class:`TrainerConfig`).

Defaults are the original implementation's (``config.yml`` of assetto_corsa_gym, sections
``Agent``, ``SAC`` and ``DisCor``). Both are sections of the run's configuration
(``acgym.config.Config``: ``agent`` and, extended, ``train``) and load through the one
loader, :func:`acgym.config_loader.load_section`, which also translates the original's
key names (:data:`acgym.config_loader.ORIGINAL_KEYS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from acgym.errors import ConfigError


@dataclass(frozen=True)
class AgentConfig:
    """Hyperparameters of SAC and DisCor (the original's values by default)."""

    algorithm: str = "sac"
    """``"sac"`` or ``"discor"``."""
    gamma: float = 0.992
    """Per-step discount factor."""
    n_step: int = 3
    """Rewards summed per transition (n-step returns); the bootstrap uses ``gamma^n``."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy (original: ``policy_lr``)."""
    critic_lr: float = 3e-4
    """Adam learning rate of the twin Q-functions (original: ``q_lr``)."""
    alpha_lr: float = 3e-4
    """Adam learning rate of ``log(alpha)`` (original: ``entropy_lr``)."""
    error_lr: float = 3e-4
    """DisCor: Adam learning rate of the error networks."""
    actor_hidden: tuple[int, ...] = (256, 256, 256)
    """Hidden layer widths of the policy (original: ``policy_hidden_units``)."""
    critic_hidden: tuple[int, ...] = (256, 256, 256)
    """Hidden layer widths of each Q-function (original: ``q_hidden_units``)."""
    error_hidden: tuple[int, ...] = (256, 256, 256, 256)
    """DisCor: hidden layer widths of each error network (original: ``error_hidden_units``)."""
    tau: float = 0.005
    """Polyak coefficient of the target networks (original: ``target_update_coef``)."""
    target_update_interval: int = 1
    """Gradient updates between target-network updates (the original: every update)."""
    init_alpha: float = 1.0
    """Initial entropy temperature (the original starts ``log(alpha)`` at 0)."""
    target_entropy: float | None = None
    """Target entropy of the automatic temperature tuning; ``None`` = ``-action_dim``."""
    final_target_entropy: float | None = None
    """The target entropy after ``target_entropy_updates`` gradient updates, reached
    linearly from ``target_entropy``; ``None`` = constant. A racing policy is at full
    throttle (or brake) much of the lap, where the tanh squashing makes its entropy very
    low, so a constant ``-action_dim`` makes it noisier elsewhere (see docs/training.md)."""
    target_entropy_updates: int = 1_000_000
    """Gradient updates over which the target entropy moves to ``final_target_entropy``."""
    final_lr_fraction: float = 1.0
    """The learning rates of the policy, the critics (and DisCor's error networks) at the
    end of ``lr_decay_updates``, as a fraction of ``actor_lr`` / ``critic_lr`` /
    ``error_lr``; 1 = constant. The temperature keeps ``alpha_lr``. Below 1, the policy
    moves less and less at the end of a run, so the final one is not caught mid-step."""
    lr_decay_updates: tuple[int, int] = (0, 1_000_000)
    """Gradient updates ``(first, last)`` between which the learning rates fall linearly
    to ``final_lr_fraction`` (constant before and after)."""
    error_tau_init: float = 10.0
    """DisCor: initial temperature ``tau`` of the weights ``exp(-gamma Delta / tau)``
    (original: ``tau_init``); it then tracks the mean predicted error."""
    error_nstep_discount: bool = False
    """DisCor: discount the error recursion by the transition's ``gamma^m`` (consistent
    with n-step targets) instead of the original's single ``gamma``."""
    batch_size: int = 128
    """Transitions per gradient update."""
    replay_size: int = 8_000_000
    """Capacity of the (online) replay buffer (original: ``memory_size``)."""
    use_offline_replay: bool = False
    """Keep demonstrations in a separate buffer mixed into each batch (original:
    ``use_offline_buffer``)."""
    offline_replay_size: int = 12_000_000
    """Capacity of the offline buffer (original: ``offline_buffer_size``)."""
    offline_fraction: float = 0.5
    """Share of each batch drawn from the offline buffer (the original: half)."""
    seed: int = 0
    """Seed of the networks' initialisation, the policy noise and replay sampling."""
    device: str = "auto"
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``..."""
    num_threads: int | None = None
    """``torch.set_num_threads`` on CPU; ``None`` leaves PyTorch's choice."""
    frame_stack: int = 3
    """Image observations: the last this many images are stacked (``acgym.rl.pixels``)."""
    encoder_channels: tuple[int, ...] = (16, 32, 32)
    """Image observations: output channels of the encoder's 3x3, stride-2 convolutions."""
    encoder_feature_dim: int = 50
    """Image observations: features the encoder makes of the stacked images."""
    image_shift_px: int = 4
    """Image observations: DrQ's random shift of the images in each update, pixels."""

    def __post_init__(self) -> None:
        if self.algorithm not in ("sac", "discor"):
            raise ConfigError(f"algorithm must be 'sac' or 'discor', got {self.algorithm!r}")
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError(f"gamma must be in (0, 1], got {self.gamma}")
        for name in (
            "n_step",
            "batch_size",
            "replay_size",
            "offline_replay_size",
            "target_entropy_updates",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.final_lr_fraction <= 1.0:
            raise ConfigError(f"final_lr_fraction must be in [0, 1], got {self.final_lr_fraction}")
        first, last = self.lr_decay_updates
        if not 0 <= first < last:
            raise ConfigError(
                f"lr_decay_updates must be (first, last) updates with 0 <= first < last, "
                f"got {tuple(self.lr_decay_updates)}"
            )
        if self.target_update_interval < 1:
            raise ConfigError(
                f"target_update_interval must be >= 1, got {self.target_update_interval}"
            )
        if not 0.0 < self.tau <= 1.0:
            raise ConfigError(f"tau must be in (0, 1], got {self.tau}")
        if self.init_alpha <= 0.0 or self.error_tau_init <= 0.0:
            raise ConfigError("init_alpha and error_tau_init must be positive")
        if self.frame_stack < 1 or self.encoder_feature_dim < 1 or self.image_shift_px < 0:
            raise ConfigError(
                "frame_stack and encoder_feature_dim must be >= 1 and image_shift_px >= 0, got "
                f"{self.frame_stack}, {self.encoder_feature_dim}, {self.image_shift_px}"
            )
        for name in ("actor_hidden", "critic_hidden", "error_hidden", "encoder_channels"):
            if not all(width >= 1 for width in getattr(self, name)):
                raise ConfigError(f"{name}: layer widths must be >= 1, got {getattr(self, name)}")

    def torch_device(self) -> torch.device:
        """The device to use: ``"auto"`` resolves to CUDA when available, else CPU."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


@dataclass(frozen=True)
class TrainerConfig:
    """Settings of the generic training loop (:class:`acgym.rl.trainer.Trainer`)."""

    total_steps: int = 8_000_000
    """Environment steps to train for, counting every sub-environment (original:
    ``num_steps``)."""
    start_steps: int = 2000
    """Steps of uniformly random actions before the policy acts and learning starts."""
    updates_per_step: float = 1.0
    """Update-to-data ratio: gradient updates per environment step (the original: one
    update per step, ``update_interval: 1``)."""
    log_interval: int = 100
    """Environment steps between TensorBoard scalar writes of the losses."""
    checkpoint_interval: int = 200_000
    """Environment steps between checkpoints; 0 = none (original: ``checkpoint_freq``)."""
    keep_checkpoints: int = 3
    """Most recent checkpoints kept on disk; 0 keeps all."""
    save_replay: bool = False
    """Include the replay buffer (``replay.npz``) in checkpoints (needed for an exact
    resume; large)."""
    eval_interval: int = 0
    """Environment steps between calls of the evaluation hook; 0 = never."""
    num_eval_episodes: int = 1
    """Episodes per evaluation, passed to the evaluation hook."""
    threaded_env: bool = False
    """Step the environment in a background thread while the learner updates (same
    results as in-line; see docs/bench/sac.md for when it is faster)."""
    progress: bool = True
    """Show a tqdm progress bar."""
    realtime: bool = False
    """Real-time loop (the game): ``set_actions(a)``, gradient updates while the world
    advances, until ``realtime_margin_s`` before the next state is due, then
    ``step(None)``. Updates of the ratio that do not fit are skipped (and counted)."""
    realtime_margin_s: float = 0.004
    """Real-time loop: time kept free before the next state is due, s."""
    pretrain_bc_alpha: float | None = 2.5
    """Offline pretraining: the actor also clones the demonstrations' actions, as TD3+BC
    (Fujimoto and Gu 2021): loss ``(alpha log pi - Q) + mean|Q| / a * |tanh(mu) - a_demo|^2``
    with this ``a`` (smaller: closer to the demonstrations). Without it, a few thousand
    demonstration steps teach the actor to exploit the critic's errors away from the data
    (docs/results.md); null = the original's plain SAC actor loss."""
    bc_fade_updates: int = 20_000
    """After a pretraining with cloning (``pretrain_bc_alpha``): online updates over which
    the cloning term (on the offline rows of each batch) fades linearly to zero; without
    it the first few hundred SAC updates undo what the pretraining taught. 0 = stop
    cloning when collection starts."""

    def __post_init__(self) -> None:
        if self.realtime and self.threaded_env:
            raise ConfigError("realtime and threaded_env exclude each other")
        if self.pretrain_bc_alpha is not None and not (
            math.isfinite(self.pretrain_bc_alpha) and self.pretrain_bc_alpha > 0.0
        ):
            raise ConfigError(
                "pretrain_bc_alpha must be a positive number or null (plain SAC), "
                f"got {self.pretrain_bc_alpha}"
            )
        if self.bc_fade_updates < 0:
            raise ConfigError(f"bc_fade_updates must be >= 0, got {self.bc_fade_updates}")
        if self.realtime_margin_s < 0:
            raise ConfigError(f"realtime_margin_s must be >= 0, got {self.realtime_margin_s}")
        for name in ("total_steps", "start_steps", "log_interval", "checkpoint_interval"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.updates_per_step < 0:
            raise ConfigError(f"updates_per_step must be >= 0, got {self.updates_per_step}")
        if self.log_interval == 0:
            raise ConfigError("log_interval must be >= 1")


__all__ = ["AgentConfig", "TrainerConfig"]
