"""Index constants of the simulator's flat arrays: car parameters, car state, outputs.

Every compiled kernel reads and writes plain ``float64`` arrays; these module-level
integers name their columns (Numba folds them in as compile-time constants). One place
defines them, so a column never has two meanings.

Wheel order everywhere: ``fl, fr, rl, rr`` (front-left, front-right, rear-left,
rear-right) = indices 0, 1, 2, 3.

Three arrays per car:

* parameters ``(NUM_PARAMS,)`` (``P_*``, built by :func:`acgym.sim.car_params.car_param_array`);
* state ``(NUM_STATE,)`` (``S_*``): what the integrator advances;
* outputs ``(NUM_OUTPUTS,)`` (``O_*``): derived quantities of the last internal step
  (slips, loads, forces, accelerations, applied controls) for telemetry.
"""

from __future__ import annotations

from acgym.car_maps import MAX_BRAKE_MAP_POINTS, MAX_STEER_MAP_POINTS

NUM_WHEELS = 4
WHEEL_NAMES = ("fl", "fr", "rl", "rr")

MAX_TORQUE_POINTS = 24
"""Most points of an engine's full-load torque curve."""
MAX_GEARS = 8
"""Most forward gears."""
# MAX_STEER_MAP_POINTS, MAX_BRAKE_MAP_POINTS: the car maps' row limits (acgym.car_maps,
# whose reader enforces them for the simulator and the environment alike)

# --- tyre block (one per axle), offsets from P_TYRE_FRONT / P_TYRE_REAR -----------------
T_MU_X = 0  # peak longitudinal friction coefficient at the nominal load
T_MU_Y = 1  # peak lateral friction coefficient at the nominal load
T_B_X = 2  # Magic Formula stiffness factor, longitudinal (per unit slip ratio)
T_C_X = 3  # Magic Formula shape factor, longitudinal
T_E_X = 4  # Magic Formula curvature factor, longitudinal
T_B_Y = 5  # Magic Formula stiffness factor, lateral (1/rad)
T_C_Y = 6  # Magic Formula shape factor, lateral
T_E_Y = 7  # Magic Formula curvature factor, lateral
T_FZ0_N = 8  # nominal load of the tyre, N
T_LOAD_SENS = 9  # d(mu)/mu per unit (Fz - Fz0)/Fz0 (negative: degressive)
T_KAPPA_PEAK = 10  # slip ratio at the pure-slip peak
T_ALPHA_PEAK_RAD = 11  # slip angle at the pure-slip peak, rad
T_ROLLING_RESISTANCE = 12  # rolling-resistance coefficient on the track surface
T_RADIUS_M = 13  # rolling radius, m
T_INERTIA_KGM2 = 14  # spin inertia of wheel + tyre + brake disc (+ half-shaft), kg m^2
T_INV_FZ0 = 15  # 1 / T_FZ0_N (precomputed: the kernels multiply instead of divide)
T_INV_KAPPA_PEAK = 16  # 1 / T_KAPPA_PEAK
T_INV_ALPHA_PEAK = 17  # 1 / T_ALPHA_PEAK_RAD
NUM_TYRE_PARAMS = 18

# --- car parameters ----------------------------------------------------------------------
P_MASS_KG = 0
P_YAW_INERTIA_KGM2 = 1
P_LF_M = 2  # CoG to front axle, m
P_LR_M = 3  # CoG to rear axle, m
P_TRACK_FRONT_M = 4
P_TRACK_REAR_M = 5
P_COG_HEIGHT_M = 6
P_ROLL_STIFFNESS_FRONT = 7  # share of the lateral load transfer carried by the front axle
P_LOAD_TAU_S = 8  # time constant of the load-transfer (suspension) lag, s
P_DRAG_COEF = 9  # 0.5 rho Cd A, N/(m/s)^2
P_LIFT_COEF = 10  # 0.5 rho Cl A, N/(m/s)^2, positive = downforce
P_AERO_FRONT = 11  # share of the downforce on the front axle
P_IDLE_RPM = 12
P_LIMITER_RPM = 13
P_LIMITER_BAND_RPM = 14  # the limiter cuts torque linearly over this band below the limit
P_LAUNCH_RPM = 15  # engine speed held while the clutch slips from a standstill
P_ENGINE_INERTIA_KGM2 = 16
P_ENGINE_BRAKE_NM = 17  # friction torque at the limiter with the throttle closed
P_DRIVETRAIN_EFFICIENCY = 18
P_NUM_TORQUE_POINTS = 19
P_TORQUE_RPM = 20  # MAX_TORQUE_POINTS values
P_TORQUE_NM = P_TORQUE_RPM + MAX_TORQUE_POINTS
P_NUM_GEARS = P_TORQUE_NM + MAX_TORQUE_POINTS
P_GEAR_RATIOS = P_NUM_GEARS + 1  # MAX_GEARS values, first gear first
P_REVERSE_RATIO = P_GEAR_RATIOS + MAX_GEARS  # positive number; applied with a minus sign
P_FINAL_DRIVE = P_REVERSE_RATIO + 1
P_SHIFT_TIME_S = P_FINAL_DRIVE + 1
P_UPSHIFT_RPM = P_SHIFT_TIME_S + 1
P_DOWNSHIFT_RPM = P_UPSHIFT_RPM + 1
P_DIFF_PRELOAD_NM = P_DOWNSHIFT_RPM + 1
P_DIFF_POWER_LOCK = P_DIFF_PRELOAD_NM + 1  # locking torque per unit of input torque
P_BRAKE_MAX_NM = P_DIFF_POWER_LOCK + 1  # total brake torque of the four wheels at status 1
P_BRAKE_FRONT = P_BRAKE_MAX_NM + 1  # brake bias: share of the brake torque at the front
P_ABS = P_BRAKE_FRONT + 1  # 1.0 = anti-lock brakes, 0.0 = none
P_STEER_RATIO = P_ABS + 1  # steering-wheel angle / road-wheel angle
P_NUM_STEER_POINTS = P_STEER_RATIO + 1
P_STEER_MAP_IN = P_NUM_STEER_POINTS + 1  # MAX_STEER_MAP_POINTS normalized inputs
P_STEER_MAP_DEG = P_STEER_MAP_IN + MAX_STEER_MAP_POINTS  # steering-wheel degrees
P_NUM_BRAKE_POINTS = P_STEER_MAP_DEG + MAX_STEER_MAP_POINTS
P_BRAKE_MAP_IN = P_NUM_BRAKE_POINTS + 1  # MAX_BRAKE_MAP_POINTS brake inputs in [-1, 1]
P_BRAKE_MAP_OUT = P_BRAKE_MAP_IN + MAX_BRAKE_MAP_POINTS  # brake status in [0, 1]
P_OFFTRACK_GRIP = P_BRAKE_MAP_OUT + MAX_BRAKE_MAP_POINTS  # friction factor off the track
P_OFFTRACK_ROLLING_RESISTANCE = P_OFFTRACK_GRIP + 1  # rolling resistance off the track
P_SLIP_SPEED_MPS = P_OFFTRACK_ROLLING_RESISTANCE + 1  # low-speed slip regularisation, m/s
# axle cornering compliance beyond the tyres (Bundorf): the axle steers by -value * ay, rad
# per m/s^2 of the lagged lateral acceleration (positive: the axle's slip angle need grows)
P_FRONT_COMPLIANCE_RAD_PER_MPS2 = P_SLIP_SPEED_MPS + 1
P_REAR_COMPLIANCE_RAD_PER_MPS2 = P_FRONT_COMPLIANCE_RAD_PER_MPS2 + 1
# ABS target slip ratio, as a share of the tyre's peak slip ratio
P_ABS_SLIP_FRACTION = P_REAR_COMPLIANCE_RAD_PER_MPS2 + 1
P_TYRE_FRONT = P_ABS_SLIP_FRACTION + 1
P_TYRE_REAR = P_TYRE_FRONT + NUM_TYRE_PARAMS
NUM_PARAMS = P_TYRE_REAR + NUM_TYRE_PARAMS

# --- car state ---------------------------------------------------------------------------
S_X_M = 0  # world position x, m
S_Y_M = 1  # world position y, m
S_YAW_RAD = 2  # heading, CCW from +x, rad (not wrapped)
S_VX_MPS = 3  # car-frame velocity, forward, m/s
S_VY_MPS = 4  # car-frame velocity, left, m/s
S_YAW_RATE_RADPS = 5  # yaw rate, CCW positive, rad/s
S_WHEEL_OMEGA = 6  # 4 values: wheel spin speeds fl, fr, rl, rr, rad/s (forward rolling > 0)
S_GEAR = 10  # internal gear: -1 reverse, 0 neutral, 1.. forward (exact small integers)
S_SHIFT_TIMER_S = 11  # time left in the current shift (clutch open), s
S_ENGINE_RPM = 12  # engine speed, rev/min
S_AX_FILT_MPS2 = 13  # lagged longitudinal acceleration used for load transfer, m/s^2
S_AY_FILT_MPS2 = 14  # lagged lateral acceleration used for load transfer, m/s^2
S_TIME_S = 15  # simulated time since the car's reset, s
NUM_STATE = 16

# --- outputs of the last internal step ---------------------------------------------------
O_STEER_WHEEL_DEG = 0  # steering-wheel angle, deg (AC sign: negative = left)
O_ROAD_WHEEL_RAD = 1  # front road-wheel angle, rad (positive = left)
O_GAS = 2  # applied throttle, 0..1
O_BRAKE = 3  # applied brake status, 0..1
O_AX_MPS2 = 4  # car-frame acceleration, forward, m/s^2
O_AY_MPS2 = 5  # car-frame acceleration, left, m/s^2
O_ENGINE_TORQUE_NM = 6  # engine torque delivered to the clutch, N m
O_DRIVE_TORQUE_NM = 7  # torque at the driven axle (after gearbox, final drive, losses), N m
O_SLIP_ANGLE_RAD = 8  # 4 values; ISO sign: positive when the wheel slides to the right
O_SLIP_RATIO = 12  # 4 values; (omega R - vx) / max(|vx|, slip speed)
O_NORMAL_LOAD_N = 16  # 4 values
O_FX_N = 20  # 4 values: tyre longitudinal force in the wheel frame, N
O_FY_N = 24  # 4 values: tyre lateral force in the wheel frame, N
O_MU_Y = 28  # 4 values: lateral peak friction coefficient (load and surface), "Dy"
O_CONTACT_X_M = 32  # 4 values: tyre contact points, world x, m
O_CONTACT_Y_M = 36  # 4 values: tyre contact points, world y, m
NUM_OUTPUTS = 40

# --- control and gear-flag columns -------------------------------------------------------
C_STEER = 0
C_ACC = 1
C_BRAKE = 2
NUM_CONTROLS = 3
G_ENABLE = 0
G_UP = 1
G_DOWN = 2
NUM_GEAR_FLAGS = 3

# --- batch workspace (structure of arrays) -----------------------------------------------
# The batch kernel (acgym.sim.integrator.step_cars) works on chunks of CHUNK cars. Each
# chunk owns WORK_ROWS rows of CHUNK values in one flat float64 array: row r of chunk c
# holds one quantity for the chunk's cars at [(c * WORK_ROWS + r) * CHUNK, ... + CHUNK).
# Loops over the cars of a chunk then read and write contiguous rows at constant
# distances from each other, which the compiler vectorises (one SIMD lane per car).
CHUNK = 4
"""Cars per chunk of the batch workspace."""
# per-car constants, packed once (acgym.sim.integrator.pack_constants)
W_MASS_KG = 0
W_YAW_INERTIA_KGM2 = 1
W_LF_M = 2
W_LR_M = 3
W_HALF_TRACK_FRONT_M = 4
W_HALF_TRACK_REAR_M = 5
W_COG_HEIGHT_M = 6
W_ROLL_STIFFNESS_FRONT = 7
W_LOAD_TAU_S = 8
W_DRAG_COEF = 9
W_LIFT_COEF = 10
W_AERO_FRONT = 11
W_FRONT_COMPLIANCE = 12  # rad per m/s^2
W_REAR_COMPLIANCE = 13  # rad per m/s^2
W_ABS = 14
W_ABS_SLIP_FRACTION = 15
W_BRAKE_MAX_NM = 16
W_BRAKE_FRONT = 17
W_DIFF_PRELOAD_NM = 18
W_DIFF_POWER_LOCK = 19
W_SLIP_SPEED_MPS = 20
W_OFFTRACK_GRIP = 21
W_OFFTRACK_ROLLING_RESISTANCE = 22
W_TYRE_FRONT = 23  # NUM_TYRE_PARAMS rows (T_* offsets)
W_TYRE_REAR = W_TYRE_FRONT + NUM_TYRE_PARAMS
# the car state during a control period (copied from and back to the (N, NUM_STATE) array)
W_STATE = W_TYRE_REAR + NUM_TYRE_PARAMS  # NUM_STATE rows (S_* offsets)
# inputs held over the control period
W_COS_DELTA = W_STATE + NUM_STATE  # cosine of the road-wheel angle
W_SIN_DELTA = W_COS_DELTA + 1
W_GAS = W_SIN_DELTA + 1
W_BRAKE_STATUS = W_GAS + 1
W_AUTO_SHIFT = W_BRAKE_STATUS + 1  # 1.0 = the automatic shifter may act
W_ON_TRACK = W_AUTO_SHIFT + 1  # 4 rows: 1.0 where a tyre is on the track surface
# one internal step's intermediate values (4 rows each for the per-wheel ones)
W_FZ = W_ON_TRACK + NUM_WHEELS
W_FX = W_FZ + NUM_WHEELS
W_FY = W_FX + NUM_WHEELS
W_KX = W_FY + NUM_WHEELS
W_KY = W_KX + NUM_WHEELS
W_WHEEL_SLIP_SPEED = W_KY + NUM_WHEELS
W_INV_SLIP_SPEED = W_WHEEL_SLIP_SPEED + NUM_WHEELS
W_VXW = W_INV_SLIP_SPEED + NUM_WHEELS
W_VYW = W_VXW + NUM_WHEELS
W_MU_X = W_VYW + NUM_WHEELS
W_COS_FRONT = W_MU_X + NUM_WHEELS  # front wheels' steer angle (with compliance steer)
W_SIN_FRONT = W_COS_FRONT + 1
W_COS_REAR = W_SIN_FRONT + 1  # rear wheels' compliance steer angle
W_SIN_REAR = W_COS_REAR + 1
W_AXLE_TORQUE_NM = W_SIN_REAR + 1
W_REFLECTED_INERTIA_KGM2 = W_AXLE_TORQUE_NM + 1  # engine inertia at the rear axle, 0 = open
W_RATIO = W_REFLECTED_INERTIA_KGM2 + 1  # overall ratio of the engaged gear
# outputs of the last internal step (O_* offsets)
W_OUT = W_RATIO + 1
WORK_ROWS = W_OUT + NUM_OUTPUTS
