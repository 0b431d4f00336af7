"""Parameters of the safety node and the plain configuration objects built from them.

ROS-free: ``PARAMS`` lists the declared parameters (their defaults live only in
``config/safety.yaml``); ``SafetyConfig.from_params`` turns the effective values into
frozen dataclasses that the validator, supervisor and controller take.
"""

from dataclasses import dataclass, fields
import math
from pathlib import Path
import re
from typing import Any, Dict, Optional

from autovla_common.params import load_defaults, ParamSpec

# Serialized size of one autovla_msgs/TrajectoryPoint (CDR: a Duration and 6 float64).
PLAN_POINT_BYTES = 56
# Units end the parameter names (``wheelbase_m``) but not the dataclass fields.
_UNIT_SUFFIX = re.compile(r'_(m|s|rad|radps|mps|mps2|mps3)$')

PARAMS = (
    ParamSpec('control_rate_hz', 'double', 'DriveCommand publish rate (Hz).', min=10.0, max=200.0),
    ParamSpec('status_rate_hz', 'double', 'SafetyStatus and selected_path publish rate (Hz).',
              min=1.0, max=50.0),
    # Vehicle: bicycle model and actuator limits. Plans beyond them are rejected and every
    # command is saturated to them.
    ParamSpec('vehicle.wheelbase_m', 'double', 'Front-to-rear axle distance (m).',
              min=0.5, max=10.0),
    ParamSpec('vehicle.max_steering_angle_rad', 'double', 'Largest front-wheel angle (rad).',
              min=0.05, max=1.2),
    ParamSpec('vehicle.max_steering_rate_radps', 'double', 'Largest front-wheel angle rate '
              '(rad/s).', min=0.05, max=5.0),
    ParamSpec('vehicle.max_acceleration_mps2', 'double', 'Largest longitudinal acceleration '
              '(m/s^2).', min=0.1, max=10.0),
    ParamSpec('vehicle.max_deceleration_mps2', 'double', 'Largest longitudinal deceleration, '
              'positive (m/s^2).', min=0.5, max=12.0),
    ParamSpec('vehicle.max_jerk_mps3', 'double', 'Largest longitudinal jerk (m/s^3).',
              min=0.5, max=50.0),
    ParamSpec('vehicle.max_lateral_acceleration_mps2', 'double', 'Largest lateral acceleration '
              '(m/s^2).', min=0.5, max=10.0),
    ParamSpec('vehicle.speed_limit_mps', 'double', 'Largest speed a plan may ask for (m/s).',
              min=0.5, max=70.0),
    # Validator.
    ParamSpec('validator.min_points', 'int', 'Fewest points a plan may have.', min=2, max=1000),
    ParamSpec('validator.max_points', 'int', 'Most points a plan may have.', min=2, max=1000),
    ParamSpec('validator.max_message_bytes', 'int', 'Largest serialized plan accepted (bytes); '
              'larger ones are rejected before deserialization.', min=4096, max=16777216),
    ParamSpec('validator.min_point_interval_s', 'double', 'Smallest time between two plan '
              'points (s).', min=0.001, max=5.0),
    ParamSpec('validator.max_point_interval_s', 'double', 'Largest time between two plan '
              'points (s).', min=0.01, max=5.0),
    ParamSpec('validator.max_first_point_deviation_m', 'double', 'Largest distance from the '
              'first point to the ego pose predicted at its time (m).', min=0.1, max=20.0),
    ParamSpec('validator.max_trajectory_age_s', 'double', 'Oldest plan accepted: now minus '
              'its input stamp (s).', min=0.05, max=10.0),
    ParamSpec('validator.max_clock_skew_s', 'double', 'How far in the future a plan stamp may '
              'be (s).', min=0.0, max=1.0),
    ParamSpec('validator.min_confidence', 'double', 'Plans less confident than this are '
              'rejected.', min=0.0, max=1.0),
    ParamSpec('validator.max_route_deviation_m', 'double', 'Largest distance from a plan point '
              'to the route (m); 0 disables the check.', min=0.0, max=100.0),
    ParamSpec('validator.pose_lookup_tolerance_s', 'double', 'How far outside the odometry '
              'history a plan stamp may fall and still use the nearest pose (s).',
              min=0.0, max=1.0),
    # Supervisor: the minimum-risk ladder.
    ParamSpec('supervisor.planner_timeout_s', 'double', 'No plan for this long: planner '
              'heartbeat lost (s).', min=0.05, max=30.0),
    ParamSpec('supervisor.odometry_timeout_s', 'double', 'No odometry for this long: '
              'EMERGENCY_STOP (s).', min=0.02, max=5.0),
    ParamSpec('supervisor.degraded_hold_s', 'double', 'Longest time DEGRADED tracks the last '
              'valid plan (s).', min=0.0, max=10.0),
    ParamSpec('supervisor.fallback_max_duration_s', 'double', 'Longest blind route following '
              'before COMFORTABLE_STOP (s).', min=0.0, max=120.0),
    ParamSpec('supervisor.recovery_valid_plans', 'int', 'Consecutive valid plans needed to go '
              'back to NOMINAL.', min=1, max=100),
    ParamSpec('supervisor.low_confidence_count', 'int', 'Consecutive low-confidence plans that '
              'trigger FALLBACK.', min=1, max=100),
    ParamSpec('supervisor.localization_settle_s', 'double', 'A localization jump keeps '
              'EMERGENCY_STOP until the odometry has been consistent this long (s).',
              min=0.0, max=60.0),
    ParamSpec('supervisor.route_max_age_s', 'double', 'Route older than this (now minus its '
              'stamp) is lost (s).', min=1.0, max=86400.0),
    # Localization sanity (autovla_safety.localization).
    ParamSpec('localization.max_position_jump_m', 'double', 'Largest distance between a new '
              'odometry position and where the measured speed puts the previous one (m); '
              'farther is a localization jump.', min=0.05, max=100.0),
    ParamSpec('localization.max_heading_jump_rad', 'double', 'Largest heading change between '
              'two odometry samples beyond what the steering allows at the measured speed '
              '(rad).', min=0.01, max=3.14),
    # Rule-based route following.
    ParamSpec('fallback.speed_cap_mps', 'double', 'Speed cap of the route-following fallback '
              '(m/s).', min=0.5, max=30.0),
    ParamSpec('fallback.max_lateral_acceleration_mps2', 'double', 'Lateral acceleration the '
              'fallback speed profile allows in curves (m/s^2).', min=0.2, max=10.0),
    ParamSpec('fallback.horizon_m', 'double', 'Length of route the fallback plans over (m).',
              min=5.0, max=500.0),
    ParamSpec('fallback.max_route_distance_m', 'double', 'Ego farther than this from the route: '
              'fallback cannot run (m).', min=0.1, max=50.0),
    # Tracking controller.
    ParamSpec('controller.lookahead_min_m', 'double', 'Smallest pure-pursuit lookahead (m).',
              min=0.5, max=50.0),
    ParamSpec('controller.lookahead_max_m', 'double', 'Largest pure-pursuit lookahead (m).',
              min=0.5, max=100.0),
    ParamSpec('controller.lookahead_time_s', 'double', 'Lookahead grows as speed times this '
              '(s).', min=0.0, max=5.0),
    ParamSpec('controller.speed_kp', 'double', 'Speed PID proportional gain (1/s).',
              min=0.0, max=10.0),
    ParamSpec('controller.speed_ki', 'double', 'Speed PID integral gain (1/s^2).',
              min=0.0, max=10.0),
    ParamSpec('controller.speed_kd', 'double', 'Speed PID derivative gain (-).',
              min=0.0, max=10.0),
    ParamSpec('controller.integral_limit_m', 'double', 'Anti-windup bound of the speed error '
              'integral (m).', min=0.0, max=100.0),
    # Minimum-risk stops.
    ParamSpec('stop.comfortable_deceleration_mps2', 'double', 'COMFORTABLE_STOP deceleration '
              '(m/s^2).', min=0.1, max=5.0),
    ParamSpec('stop.comfortable_jerk_mps3', 'double', 'COMFORTABLE_STOP jerk limit (m/s^3).',
              min=0.1, max=20.0),
    ParamSpec('stop.emergency_deceleration_mps2', 'double', 'EMERGENCY_STOP deceleration '
              '(m/s^2).', min=0.5, max=12.0),
    ParamSpec('stop.emergency_jerk_mps3', 'double', 'EMERGENCY_STOP jerk limit (m/s^3).',
              min=0.5, max=100.0),
    # Autonomous emergency braking from the optional obstacle point cloud (aeb.py).
    ParamSpec('aeb.enabled', 'bool', 'Check the obstacle cloud: reject colliding plans and '
              'brake for imminent collisions.'),
    ParamSpec('aeb.ego_length_m', 'double', 'Ego footprint length, bumper to bumper (m).',
              min=0.5, max=30.0),
    ParamSpec('aeb.ego_width_m', 'double', 'Ego footprint width (m).', min=0.5, max=5.0),
    ParamSpec('aeb.rear_overhang_m', 'double', 'Rear bumper behind base_link (m).',
              min=0.0, max=10.0),
    ParamSpec('aeb.lateral_margin_m', 'double', 'Footprint widened by this on each side (m).',
              min=0.0, max=2.0),
    ParamSpec('aeb.min_height_m', 'double', 'Points lower than this above base_link are '
              'ground (m).', min=-1.0, max=2.0),
    ParamSpec('aeb.max_height_m', 'double', 'Points higher than this above base_link pass '
              'over the car (m).', min=0.5, max=10.0),
    ParamSpec('aeb.reaction_time_s', 'double', 'Delay before the brake acts: command latency '
              'and brake build-up (s).', min=0.0, max=2.0),
    ParamSpec('aeb.deceleration_mps2', 'double', 'Deceleration the AEB commands and assumes '
              'for the ego (m/s^2).', min=0.5, max=12.0),
    ParamSpec('aeb.jerk_mps3', 'double', 'Jerk limit of the AEB brake ramp (m/s^3).',
              min=0.5, max=200.0),
    ParamSpec('aeb.obstacle_deceleration_mps2', 'double', 'Braking assumed of an obstacle '
              'moving away along the path (m/s^2).', min=0.1, max=12.0),
    ParamSpec('aeb.longitudinal_margin_m', 'double', 'Gap kept to the obstacle after '
              'stopping (m).', min=0.0, max=20.0),
    ParamSpec('aeb.min_speed_mps', 'double', 'Below this ego speed the AEB does not brake '
              '(m/s).', min=0.0, max=5.0),
    ParamSpec('aeb.hold_s', 'double', 'Braking continues this long after the last imminent '
              'collision (s).', min=0.0, max=30.0),
    ParamSpec('aeb.motion_horizon_s', 'double', 'While a path is tracked, the current '
              'motion is checked this far ahead (s).', min=0.1, max=10.0),
    ParamSpec('aeb.path_step_m', 'double', 'Spacing of the footprints swept along a path (m).',
              min=0.05, max=2.0),
    ParamSpec('aeb.cloud_timeout_s', 'double', 'Clouds older than this are not used: the '
              'check pauses (s).', min=0.05, max=5.0),
    ParamSpec('aeb.max_cloud_points', 'int', 'Clouds with more points are rejected.',
              min=1, max=10_000_000),
    ParamSpec('aeb.max_obstacle_speed_mps', 'double', 'Obstacle speed estimates above this '
              'are implausible and not used; also the farthest a cluster may move between two '
              'clouds and still be the same obstacle (m/s).', min=1.0, max=100.0),
    ParamSpec('aeb.cluster_distance_m', 'double', 'Cloud points in neighbouring cells of '
              'this size form one obstacle, tracked between clouds for its velocity (m).',
              min=0.1, max=5.0),
    ParamSpec('aeb.path_tolerance_m', 'double', 'While the ego is within this of the path it '
              'tracks, that path is checked and the current motion is not (m).',
              min=0.0, max=5.0),
)


@dataclass(frozen=True)
class VehicleLimits:
    """Bicycle-model geometry and actuator limits (decelerations positive)."""

    wheelbase: float
    max_steering_angle: float
    max_steering_rate: float
    max_acceleration: float
    max_deceleration: float
    max_jerk: float
    max_lateral_acceleration: float
    speed_limit: float

    @property
    def max_curvature(self) -> float:
        """Tightest curvature the steering allows (1/m)."""
        return math.tan(self.max_steering_angle) / self.wheelbase


@dataclass(frozen=True)
class ValidatorConfig:
    """Thresholds of the plan checks."""

    min_points: int
    max_points: int
    max_message_bytes: int
    min_point_interval: float
    max_point_interval: float
    max_first_point_deviation: float
    max_trajectory_age: float
    max_clock_skew: float
    min_confidence: float
    max_route_deviation: float
    pose_lookup_tolerance: float


@dataclass(frozen=True)
class SupervisorConfig:
    """Deadlines and counts of the minimum-risk ladder."""

    planner_timeout: float
    odometry_timeout: float
    degraded_hold: float
    fallback_max_duration: float
    recovery_valid_plans: int
    low_confidence_count: int
    localization_settle: float
    route_max_age: float


@dataclass(frozen=True)
class LocalizationConfig:
    """Tolerances of the localization jump check."""

    max_position_jump: float
    max_heading_jump: float


@dataclass(frozen=True)
class FallbackConfig:
    """Route-following fallback: speed cap and profile."""

    speed_cap: float
    max_lateral_acceleration: float
    horizon: float
    max_route_distance: float


@dataclass(frozen=True)
class ControllerConfig:
    """Pure pursuit and speed PID gains."""

    lookahead_min: float
    lookahead_max: float
    lookahead_time: float
    speed_kp: float
    speed_ki: float
    speed_kd: float
    integral_limit: float


@dataclass(frozen=True)
class StopConfig:
    """Decelerations and jerk limits of the two minimum-risk stops (positive numbers)."""

    comfortable_deceleration: float
    comfortable_jerk: float
    emergency_deceleration: float
    emergency_jerk: float


@dataclass(frozen=True)
class AebConfig:
    """Autonomous emergency braking: footprint, point filter and the RSS stopping distance."""

    enabled: bool
    ego_length: float
    ego_width: float
    rear_overhang: float
    lateral_margin: float
    min_height: float
    max_height: float
    reaction_time: float
    deceleration: float
    jerk: float
    obstacle_deceleration: float
    longitudinal_margin: float
    min_speed: float
    hold: float
    motion_horizon: float
    path_step: float
    cloud_timeout: float
    max_cloud_points: int
    max_obstacle_speed: float
    cluster_distance: float
    path_tolerance: float


@dataclass(frozen=True)
class SafetyConfig:
    """Everything the ROS-free core needs, grouped by part."""

    vehicle: VehicleLimits
    validator: ValidatorConfig
    supervisor: SupervisorConfig
    localization: LocalizationConfig
    fallback: FallbackConfig
    controller: ControllerConfig
    stop: StopConfig
    aeb: AebConfig

    @classmethod
    def from_params(cls, params: Dict[str, Any]) -> 'SafetyConfig':
        """Build from the node's effective parameters; raise ValueError on inconsistent ones.

        Parameter ``<group>.<field>_<unit>`` fills field ``<field>`` of group ``<group>``.
        """
        groups: Dict[str, Dict[str, Any]] = {field.name: {} for field in fields(cls)}
        for name, value in params.items():
            group, _, key = name.partition('.')
            if group in groups:
                groups[group][_UNIT_SUFFIX.sub('', key)] = value
        try:
            config = cls(**{field.name: field.type(**groups[field.name])
                            for field in fields(cls)})
        except TypeError as error:
            raise ValueError(f'safety parameters do not match the configuration: {error}')
        problems = config.inconsistencies()
        if problems:
            raise ValueError('; '.join(problems))
        return config

    def inconsistencies(self):
        """List parameter combinations that cannot work together (empty = consistent)."""
        problems = []
        if self.validator.min_points > self.validator.max_points:
            problems.append('validator.min_points > validator.max_points')
        if self.validator.max_message_bytes < self.validator.max_points * PLAN_POINT_BYTES:
            problems.append('validator.max_message_bytes cannot hold validator.max_points '
                            f'points ({PLAN_POINT_BYTES} bytes each)')
        if self.validator.min_point_interval > self.validator.max_point_interval:
            problems.append('validator.min_point_interval_s > validator.max_point_interval_s')
        if self.controller.lookahead_min > self.controller.lookahead_max:
            problems.append('controller.lookahead_min_m > controller.lookahead_max_m')
        for name, decel in (('comfortable', self.stop.comfortable_deceleration),
                            ('emergency', self.stop.emergency_deceleration)):
            if decel > self.vehicle.max_deceleration:
                problems.append(f'stop.{name}_deceleration_mps2 > '
                                'vehicle.max_deceleration_mps2')
        if self.aeb.deceleration > self.vehicle.max_deceleration:
            problems.append('aeb.deceleration_mps2 > vehicle.max_deceleration_mps2')
        if self.aeb.min_height >= self.aeb.max_height:
            problems.append('aeb.min_height_m >= aeb.max_height_m')
        if self.aeb.rear_overhang >= self.aeb.ego_length:
            problems.append('aeb.rear_overhang_m >= aeb.ego_length_m')
        if self.fallback.speed_cap > self.vehicle.speed_limit:
            problems.append('fallback.speed_cap_mps > vehicle.speed_limit_mps')
        return problems


def shipped_params_file() -> Path:
    """Return the safety node's params YAML: the install space's, else the source tree's."""
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory('autovla_safety')) / 'config' / 'safety.yaml'
        if installed.exists():
            return installed
    except (ImportError, LookupError, ValueError):
        pass
    return Path(__file__).resolve().parents[3] / 'config' / 'safety.yaml'


def load_shipped_config(path: Optional[Path] = None) -> 'SafetyConfig':
    """Load the safety node's configuration from its params YAML (offline tools, simulators)."""
    return SafetyConfig.from_params(load_defaults(path or shipped_params_file(), 'safety_node'))
