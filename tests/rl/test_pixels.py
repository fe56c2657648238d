"""Learning from pixels: stacked flat observations, DrQ's shift, the byte replay that
samples what the plain one samples, the encoder trained through the critic only, and
`acgym train env.image.enabled=true` end to end with a checkpoint that refuses an env of
other image settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_runs import TINY

from acgym.cli import main
from acgym.config import load_config
from acgym.errors import ConfigError
from acgym.rl.checkpoint import latest_checkpoint, load_agent
from acgym.rl.config import AgentConfig
from acgym.rl.encoder import random_shift
from acgym.rl.envs import make_env
from acgym.rl.pixel_replay import PixelReplay, fitting_capacity, transition_bytes
from acgym.rl.pixel_sac import PixelDisCor, PixelSAC
from acgym.rl.pixels import PixelLayout, pixel_layout_of
from acgym.rl.replay import NStepReplay

SMALL_IMAGE = [
    "env.image.enabled=true",
    "env.image.camera.width_px=16",
    "env.image.camera.height_px=12",
]
TINY_PIXELS = [*SMALL_IMAGE, "agent.encoder_channels=[4]", "agent.encoder_feature_dim=8"]


def test_stacks_hold_the_last_images_oldest_first_and_restart_with_an_episode():
    env = make_env(load_config(overrides=[*SMALL_IMAGE, "agent.frame_stack=3"]))
    layout = pixel_layout_of(env)
    assert layout.stacked_shape == (3, 12, 16) and layout.vector_dim == 125
    assert env.observation_layout[0].startswith("image[1x12x16 stack 3 | camera 16x12 gray")
    base = env.unwrapped

    def last_image() -> np.ndarray:
        return base.pipeline.image.images[0, :, :, 0].astype(np.float32)

    obs, _ = env.reset(seed=0, options={"speed_mps": 30.0})
    stack = obs[: layout.pixel_dim].reshape(3, 12, 16)
    for k in range(3):
        np.testing.assert_array_equal(stack[k], last_image())  # the first image, three times
    images = [last_image()]
    for _ in range(4):
        obs, *_ = env.step(np.array([0.0, 1.0, -1.0], dtype=np.float32))
        images.append(last_image())
    stack = obs[: layout.pixel_dim].reshape(3, 12, 16)
    for k in range(3):
        np.testing.assert_array_equal(stack[k], images[-3 + k])
    assert not np.array_equal(images[0], images[-1])  # the car moved on: 4.8 m
    plain = make_env(load_config())  # the same car without images: the same vector
    vector, _ = plain.reset(seed=0, options={"speed_mps": 30.0})
    for _ in range(4):
        vector, *_ = plain.step(np.array([0.0, 1.0, -1.0], dtype=np.float32))
    np.testing.assert_array_equal(obs[layout.pixel_dim :], vector)
    plain.close()
    env.close()


def test_a_vector_envs_ended_episode_keeps_its_stack_in_final_obs():
    overrides = [*SMALL_IMAGE, "agent.frame_stack=2", "env.max_episode_py_time=0.2"]
    env = make_env(load_config(overrides=overrides), num_envs=2)  # 5 steps an episode
    layout = pixel_layout_of(env)
    obs, _ = env.reset(seed=0)
    previous = obs
    for _ in range(6):
        obs, _, terminated, truncated, infos = env.step(np.zeros((2, 3), dtype=np.float32))
        if (terminated | truncated).any():
            break
        previous = obs
    ended = int(np.flatnonzero(terminated | truncated)[0])
    final = infos["final_obs"][ended]
    stack = final[: layout.pixel_dim].reshape(2, 12, 16)
    previous_stack = previous[ended, : layout.pixel_dim].reshape(2, 12, 16)
    np.testing.assert_array_equal(stack[0], previous_stack[1])  # the episode's own frames
    first = obs[ended, : layout.pixel_dim].reshape(2, 12, 16)
    np.testing.assert_array_equal(first[0], first[1])  # the new episode starts afresh
    env.close()


def test_the_random_shift_moves_each_image_by_whole_pixels_within_the_pad():
    ramp = torch.arange(20.0)[None, :].repeat(20, 1)  # value = column
    images = ramp[None, None].repeat(64, 1, 1, 1)
    shifted = random_shift(images, 3, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    offsets = shifted[:, 0, 10, 10] - 10.0  # the column shift of each image
    assert set(offsets.tolist()) == {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}
    for image, offset in zip(shifted, offsets.tolist(), strict=True):
        expected = (torch.arange(20.0) + offset).clamp(0, 19)  # edges replicated
        torch.testing.assert_close(image[0, 5], expected)
    assert torch.equal(random_shift(images, 0), images)


def test_the_byte_replay_samples_what_the_float_replay_samples():
    layout = PixelLayout(1, 4, 5, 2, 3)
    rng = np.random.default_rng(0)
    plain = NStepReplay(100, layout.flat_dim, 2, 0.9, n_step=3, num_envs=2, seed=7)
    pixels = PixelReplay(layout, 100, 2, 0.9, n_step=3, num_envs=2, seed=7)

    def observation() -> np.ndarray:
        image = rng.integers(0, 256, (2, layout.pixel_dim)).astype(np.float32)
        return np.concatenate([image, rng.normal(size=(2, 3)).astype(np.float32)], axis=1)

    obs = observation()
    for t in range(40):
        actions, rewards, next_obs = rng.uniform(-1, 1, (2, 2)), rng.normal(size=2), observation()
        ends = np.array([t % 11 == 10, t % 13 == 12])
        for buffer in (plain, pixels):
            buffer.add(obs, actions, rewards, next_obs, ends, np.zeros(2, bool))
        obs = next_obs
    for a, b in zip(plain.sample_arrays(64), pixels.sample_arrays(64), strict=True):
        np.testing.assert_array_equal(a, b)
    assert pixels.state_dict()["pixels"].dtype == np.uint8
    restored = PixelReplay(layout, 100, 2, 0.9, n_step=3, num_envs=2, seed=1)
    restored.load_state_dict(pixels.state_dict())
    for a, b in zip(plain.sample_arrays(16), restored.sample_arrays(16), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_replay_keeps_what_fits_half_the_memory_and_says_so(caplog):
    layout = PixelLayout(1, 64, 64, 3, 125)  # the default camera's stack
    per_transition = transition_bytes(layout, 3)
    assert per_transition == 2 * (3 * 64 * 64 + 4 * 125) + 4 * 6  # ~25 KB
    memory = 24 * 2**30
    assert fitting_capacity(100_000, layout, 3, memory) == 100_000  # 2.5 GB: kept
    with caplog.at_level("WARNING"):
        kept = fitting_capacity(8_000_000, layout, 3, memory)  # ~200 GB
    assert kept == int(0.5 * memory) // per_transition
    assert "agent.replay_size=8000000" in caplog.text and "agent.replay_size" in caplog.text


def test_the_default_replay_size_builds_a_pixel_agent_on_this_machine():
    # 8M pixel transitions used to ask for 370 GiB of floats at once (MemoryError).
    layout = PixelLayout(1, 64, 64, 3, 125)
    agent = PixelSAC(layout.flat_dim, 3, AgentConfig(device="cpu"), pixels=layout)
    assert 0 < agent.replay.capacity < AgentConfig().replay_size
    assert agent.replay._obs.nbytes == 0  # no float copy of the pixels


@pytest.mark.parametrize("cls", [PixelSAC, PixelDisCor])
def test_the_encoder_learns_from_the_critic_and_not_from_the_actor(cls):
    layout = PixelLayout(1, 12, 16, 2, 3)
    config = AgentConfig(
        actor_hidden=(16,), critic_hidden=(16,), error_hidden=(16,), batch_size=8,
        replay_size=100, encoder_channels=(4,), encoder_feature_dim=6, device="cpu",
        algorithm="discor" if cls is PixelDisCor else "sac",
    )  # fmt: skip
    agent = cls(layout.flat_dim, 3, config, pixels=layout)
    rng = np.random.default_rng(0)
    obs = np.concatenate(
        [rng.integers(0, 256, (20, layout.pixel_dim)), rng.normal(size=(20, 3))], 1
    )
    for t in range(19):
        agent.observe(obs[t], rng.uniform(-1, 1, 3), 1.0, obs[t + 1], False, False)
    batch = agent.replay.sample(8)
    encoded, actor_obs = agent.encode_batch(batch)
    assert not actor_obs.requires_grad and encoded.observations.requires_grad
    assert not encoded.next_observations.requires_grad
    term = agent.critic.first_layer_term(encoded.observations)
    agent._policy_step(actor_obs, term, True, False)  # the actor's and alpha's step
    assert all(p.grad is None for p in agent.encoder.parameters())
    before = [p.detach().clone() for p in agent.encoder.parameters()]
    agent.update(1)
    changed = [
        not torch.equal(a, b) for a, b in zip(before, agent.encoder.parameters(), strict=True)
    ]
    assert all(changed)  # the critic's loss reached every layer
    assert agent.act(obs[:2]).shape == (2, 3)


def test_train_from_pixels_and_a_checkpoint_that_refuses_other_images(tmp_path: Path):
    run = tmp_path / "run"
    code = main(
        [
            "train", *TINY, *TINY_PIXELS, f"train.run_dir={run}", "train.total_steps=300",
            "train.num_envs=2", "train.eval_at_end=false", "train.start_steps=100",
        ]
    )  # fmt: skip
    assert code == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["env_steps"] == 300 and summary["updates"] > 0
    checkpoint = latest_checkpoint(run / "checkpoints")
    meta = json.loads((checkpoint / "meta.json").read_text())
    assert meta["observation_layout"][0].startswith("image[1x12x16 stack 3 | camera 16x12")
    env = make_env(load_config(run / "config.yaml"))
    agent = load_agent(checkpoint, observation_layout=env.observation_layout)
    assert isinstance(agent, PixelSAC)
    obs, _ = env.reset(seed=0)
    assert agent.act(obs, deterministic=True).shape == (3,)
    env.close()
    other = make_env(load_config(run / "config.yaml", ["env.image.camera.fov_deg=60"]))
    with pytest.raises(ConfigError, match="fov 60"):
        load_agent(checkpoint, observation_layout=other.observation_layout)
    other.close()
