"""The env benchmark's pieces run and report consistent figures (no timing is asserted)."""

from __future__ import annotations

import numpy as np

from acgym.env.bench import bench_single, bench_vector, policy_actions, profile_single


def test_the_policy_is_seeded_and_within_the_action_box():
    a, b = policy_actions(10, 4), policy_actions(10, 4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (10, 4, 3) and np.all(np.abs(a) <= 1.0)


def test_single_and_vector_figures_are_positive_and_consistent():
    single = bench_single(30, 1)
    assert single["best_steps_per_s"] >= single["median_steps_per_s"] > 0
    assert single["us_per_step"] > 0 and single["sim_us_per_step"] > 0
    vector = bench_vector(4, 5, 1, image=True)
    assert vector["num_cars"] == 4 and vector["best_steps_per_s"] > 0


def test_the_profile_names_functions_with_their_time_per_step():
    rows = profile_single(20, top=5)
    assert len(rows) == 5 and all(row["own_us_per_step"] > 0 for row in rows)


def test_the_real_circuit_figures_run_on_the_circuit_named():
    # Suzuka crosses itself: the bench runs the level-aware queries too
    single = bench_single(30, 1, track="Suzuka")
    assert single["track"] == "Suzuka"
    assert single["best_steps_per_s"] >= single["median_steps_per_s"] > 0
    vector = bench_vector(4, 5, 1, track="Catalunya")
    assert (
        vector["track"] == "Catalunya"
        and vector["num_cars"] == 4
        and vector["best_steps_per_s"] > 0
    )
