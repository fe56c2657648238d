"""Names of the channels the environment derives and adds to each state.

The original environment's ``expand_state`` added these to every state it read; they are
logged beside the wire channels in every episode's Parquet file and can be observation
channels (``gap`` is one of the defaults), so datasets and configs use these names. They
are not wire names: no plugin or server sends them, so they are not in
:mod:`acgym.protocol.channels`; this module, which imports nothing, is the one place they
are spelled (tests/test_channel_names.py checks it), for the kernel that computes them
(:mod:`acgym.env.features`) and every reader alike.
"""

from __future__ import annotations

GAP = "gap"
"""Distance to the racing line, m, positive right of it (the original's sign)."""
LAP_DIST = "LapDist"
"""Distance along the lap, m: ``NormalizedSplinePosition`` times the track length."""
OUT_OF_TRACK_AC = "out_of_track_ac"
"""1 when the game counts too many tyres off the track (the geometry when it has no
count)."""
OUT_OF_TRACK_CALC = "out_of_track_calc"
"""1 when the car's position is outside the track's borders."""
OUT_OF_TRACK = "out_of_track"
"""The out-of-track flag the env uses: ``out_of_track_ac`` or ``out_of_track_calc``
(``use_ac_out_of_track``)."""
DIST_TO_BORDER = "dist_to_border"
"""Distance to the nearest border along the ray fan, m (NaN without rays)."""
GOING_BACKWARDS = "going_backwards"
"""Always 0, as in the original (its check was never filled in)."""

DERIVED_CHANNELS = (
    GAP,
    LAP_DIST,
    OUT_OF_TRACK_AC,
    OUT_OF_TRACK_CALC,
    OUT_OF_TRACK,
    DIST_TO_BORDER,
    GOING_BACKWARDS,
)
"""Channels the environment adds to each state, in the frame's and the log's order."""

STEER_ANGLE_MANUAL = "steerAngleManual"
"""The game client's own device: steering, -1 (full left) to 1 (the original's name)."""
ACC_STATUS_MANUAL = "accStatusManual"
"""The game client's own device: throttle pedal, 0 (released) to 1."""
BRAKE_STATUS_MANUAL = "brakeStatusManual"
"""The game client's own device: brake pedal, 0 (released) to 1."""

CLIENT_INPUT_CHANNELS = (STEER_ANGLE_MANUAL, ACC_STATUS_MANUAL, BRAKE_STATUS_MANUAL)
"""What ``record_controls_from_client`` adds to each of the game's states: the client
machine's own input device, read at the state's arrival (acgym.env.client_inputs)."""
