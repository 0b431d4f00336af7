"""Observation assembly: cameras, odometry, route and command in; one Observation out.

ROS-free. The node converts messages into the plain types below, calls ``on_*`` as they
arrive and ``step`` at the planning rate. Compressed frames stay encoded in the buffers and
are decoded only when a history picks them (once: the result is kept with the frame); raw
frames are converted on arrival, because a buffer of full-size raw images would be large.
"""

from dataclasses import dataclass, field, fields
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from autovla_common.pixel_budget import smart_resize
from autovla_common.rig import CameraSpec
import numpy as np

from autovla_perception import route as route_lib
from autovla_perception.ego import EgoEstimator, EgoState, OdometrySample
from autovla_perception.health import InputHealth
from autovla_perception.preprocess import (
    convert_raw,
    decode_compressed,
    encoded_size,
    FrameError,
    RgbImage,
    scale_intrinsics,
)
from autovla_perception.sync import BufferedFrame, Synchroniser

# Values of autovla_msgs/DrivingCommand.source.
SOURCE_NONE, SOURCE_TOPIC, SOURCE_ROUTE = 0, 1, 2
COMPRESSED_FORMATS = ('jpeg', 'jpg', 'png')


@dataclass(frozen=True)
class PerceptionConfig:
    """Everything the core needs from the parameters and the rig."""

    cameras: Tuple[CameraSpec, ...]
    anchor_camera: str
    planning_rate_hz: float
    sync_tolerance_s: float
    history_length: int
    history_rate_hz: float
    allow_recorded_spacing: bool
    max_wait_s: float
    late_camera_policy: str
    min_pixels: int
    max_pixels: int
    max_decode_upscale: float
    mono16_policy: str
    odometry_tolerance_s: float
    acceleration_time_constant_s: float
    route_lookahead_m: float
    route_spacing_m: float
    command_lookahead_m: float
    command_threshold_rad: float
    command_timeout_s: float

    @classmethod
    def from_params(cls, params: Dict[str, object],
                    cameras: Tuple[CameraSpec, ...]) -> 'PerceptionConfig':
        """Pick the fields from node parameters of the same names."""
        return cls(cameras=cameras, **{f.name: params[f.name] for f in fields(cls)
                                       if f.name != 'cameras'})


@dataclass(frozen=True)
class Calibration:
    """Intrinsics of a camera at the image size they refer to."""

    width: int
    height: int
    intrinsics: Tuple[float, float, float, float]  # fx, fy, cx, cy (px)
    distortion_model: str = 'plumb_bob'
    distortion: Tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def valid(self) -> bool:
        """Positive size, finite and positive focal lengths, finite centre and distortion."""
        values = self.intrinsics + tuple(self.distortion)
        return (self.width > 0 and self.height > 0 and all(math.isfinite(v) for v in values)
                and self.intrinsics[0] > 0 and self.intrinsics[1] > 0)


@dataclass(frozen=True)
class EncodedFrame:
    """A camera message's payload: compressed bytes (JPEG/PNG) or raw pixels."""

    compressed: bool
    data: object            # bytes-like, not copied
    encoding: str           # CompressedImage.format or Image.encoding
    frame_id: str
    width: int = 0          # raw only
    height: int = 0
    step: int = 0
    big_endian: bool = False


@dataclass
class _Slot:
    """What a buffer keeps per frame: the payload until decoded, then the image."""

    encoded: Optional[EncodedFrame]
    frame_id: str
    image: Optional[RgbImage] = None


@dataclass(frozen=True)
class CameraFrame:
    """One preprocessed frame of a history."""

    stamp_ns: int
    frame_id: str
    image: RgbImage


@dataclass(frozen=True)
class CameraObservation:
    """One camera of an observation (see autovla_msgs/CameraHistory)."""

    spec: CameraSpec
    calibration: Calibration          # scaled to the preprocessed size
    frame_id: str
    frames: List[CameraFrame]         # oldest first; empty when missing

    @property
    def missing(self) -> bool:
        """True when the camera had no usable history."""
        return not self.frames


@dataclass(frozen=True)
class Observation:
    """Everything one DrivingObservation carries, in plain types."""

    stamp_ns: int
    history_rate_hz: float
    cameras: List[CameraObservation]
    ego: EgoState
    command: int
    command_source: int
    command_text: str
    command_stamp_ns: int
    route_points: np.ndarray          # (N, 2) in base_link, nearest first


@dataclass
class _Command:
    command: int
    text: str
    stamp_ns: int
    arrival_ns: int


@dataclass
class _Route:
    points: np.ndarray
    frame_id: str


@dataclass
class StepResult:
    """What ``step`` did: a Selection status (or 'stale_odometry') and maybe an Observation."""

    status: str
    observation: Optional[Observation] = None
    missing: Sequence[str] = field(default_factory=tuple)


class PerceptionCore:
    """Buffers inputs, validates them, and assembles complete observations."""

    def __init__(self, config: PerceptionConfig, health: InputHealth,
                 warn: Callable[[str], None]):
        self.config = config
        self.health = health
        self._warn = warn
        names = [camera.name for camera in config.cameras]
        self.sync = Synchroniser(
            names, config.anchor_camera, int(config.sync_tolerance_s * 1e9),
            config.history_length, int(1e9 / config.history_rate_hz),
            int(config.max_wait_s * 1e9), config.late_camera_policy,
            min_spacing_ns=int(1e9 / config.planning_rate_hz),
            allow_recorded_spacing=config.allow_recorded_spacing)
        # What the history is waiting for or built from, for /diagnostics (plain text).
        self.history_note = 'no frames yet'
        self.history_spacing_s = 1.0 / config.history_rate_hz
        self.ego = EgoEstimator(config.acceleration_time_constant_s)
        self.odometry_frame = ''
        self.route: Optional[_Route] = None
        self.command: Optional[_Command] = None
        self.calibrations: Dict[str, Optional[Calibration]] = {}
        self.targets: Dict[str, Tuple[int, int]] = {}
        for camera in config.cameras:
            self.calibrations[camera.name] = None
            if not camera.camera_info_topic:
                self.set_calibration(camera.name, Calibration(
                    camera.width, camera.height, camera.intrinsics))

    def reject(self, reason: str, detail: str) -> None:
        """Count a problem and warn about it (throttled per reason)."""
        message = self.health.record(reason, detail)
        if message:
            self._warn(message)

    # Inputs ------------------------------------------------------------------------------

    def set_calibration(self, camera: str, calibration: Calibration) -> None:
        """Use new intrinsics for ``camera``; a new image size drops its buffered frames."""
        if not calibration.valid():
            self.reject('bad_camera_info', f'{camera}: camera info has a zero size, a '
                                           'non-positive focal length or a NaN; ignored')
            return
        try:
            height, width = smart_resize(calibration.height, calibration.width,
                                         self.config.min_pixels, self.config.max_pixels)
        except ValueError as error:
            self.reject('bad_camera_info', f'{camera}: {error}; camera info ignored')
            return
        previous = self.calibrations[camera]
        if previous is not None and (previous.width, previous.height) != (
                calibration.width, calibration.height):
            self.sync.buffers[camera].clear()
        self.calibrations[camera] = calibration
        self.targets[camera] = (width, height)

    def on_image(self, camera: str, stamp_ns: int, arrival_ns: int, frame: EncodedFrame) -> None:
        """Validate a camera frame and buffer it (raw frames are converted here)."""
        calibration = self.calibrations[camera]
        if calibration is None:
            self.reject('no_camera_info', f'{camera}: frame dropped, no CameraInfo yet')
            return
        try:
            slot = self._validate(camera, calibration, frame)
        except FrameError as error:
            self.reject(error.reason, f'{camera}: frame dropped: {error}')
            return
        outcome = self.sync.add(camera, stamp_ns, arrival_ns, slot)
        if outcome == 'duplicate_stamp':
            self.reject(outcome, f'{camera}: frame with an already seen stamp dropped')
        elif outcome == 'stamp_backwards':
            self.reject(outcome, f'{camera}: stamps went backwards (bag looping?); frames '
                                 'of the old timeline dropped from every buffer')

    def _validate(self, camera: str, calibration: Calibration, frame: EncodedFrame) -> _Slot:
        expected = (calibration.width, calibration.height)
        if frame.compressed:
            if not any(name in frame.encoding.lower() for name in COMPRESSED_FORMATS):
                raise FrameError('unknown_encoding', f'compressed format {frame.encoding!r} '
                                                     'is neither JPEG nor PNG')
            size = encoded_size(frame.data)
        else:
            size = (frame.width, frame.height)
        if size[0] <= 0 or size[1] <= 0:
            raise FrameError('zero_size', f'image is {size[0]}x{size[1]}')
        if size != expected:
            raise FrameError('size_mismatch', f'image is {size[0]}x{size[1]}, calibration '
                                              f'says {expected[0]}x{expected[1]}')
        if frame.compressed:
            return _Slot(frame, frame.frame_id)
        image = convert_raw(frame.data, frame.encoding, frame.width, frame.height, frame.step,
                            frame.big_endian, self.targets[camera], self.config.mono16_policy)
        return _Slot(None, frame.frame_id, image)

    def on_odometry(self, sample: OdometrySample, frame_id: str) -> bool:
        """Update the ego state; NaN and old stamps are rejected (a jump back resets).

        Return whether the sample was accepted.
        """
        try:
            self.ego.update(sample)
        except FrameError as error:
            if error.reason != 'stamp_backwards':
                self.reject(error.reason, f'odometry dropped: {error}')
                return False
            self.ego.reset()
            self.ego.update(sample)
            self.reject(error.reason, 'odometry stamps went backwards (bag looping?); '
                                      'ego state estimator reset')
        self.odometry_frame = frame_id
        return True

    def on_route(self, points: np.ndarray, frame_id: str) -> None:
        """Replace the route ((N, 2) points in ``frame_id``); an empty route clears it."""
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        if len(points) == 0:
            self.route = None
            return
        if not np.isfinite(points).all():
            self.reject('bad_route', 'route has NaN or infinite points; previous route kept')
            return
        self.route = _Route(points, frame_id)

    def on_command(self, command: int, text: str, stamp_ns: int, arrival_ns: int) -> None:
        """Take an explicit driving command (valid for ``command_timeout_s``)."""
        if command not in (route_lib.UNKNOWN, route_lib.TURN_LEFT, route_lib.KEEP_FORWARD,
                           route_lib.TURN_RIGHT):
            self.reject('bad_command', f'driving command {command} is not a known value')
            return
        self.command = _Command(command, text, stamp_ns, arrival_ns)

    # Assembly ----------------------------------------------------------------------------

    def step(self, now_ns: int,
             route_pose: Optional[Callable[[str], Optional[Tuple[float, float, float]]]] = None
             ) -> StepResult:
        """Assemble the newest complete observation, if there is one.

        ``route_pose(frame)`` may return base_link's (x, y, yaw) in the route's frame (from
        tf2); otherwise the odometry pose is used.
        """
        for _ in range(len(self.config.cameras) * self.config.history_length + 1):
            selection = self.sync.select(now_ns)
            if selection.status != 'ready' or self._prepare(selection.histories):
                break
        if selection.status == 'warming_up':
            self._explain_warm_up()
        if selection.status in ('no_new_anchor', 'warming_up', 'waiting'):
            return StepResult(selection.status, missing=selection.missing)
        anchor_ns = selection.anchor_stamp_ns
        if selection.missing:
            self.reject('camera_missing', f'no frame history within the sync tolerance from '
                                          f'{", ".join(selection.missing)}')
        if selection.status == 'skipped':
            self.sync.consume(anchor_ns)
            return StepResult('skipped', missing=selection.missing)
        ego = self.ego.state_at(anchor_ns, self.config.odometry_tolerance_s * 1e9)
        if ego is None:
            if now_ns - selection.anchor_arrival_ns < self.config.max_wait_s * 1e9:
                return StepResult('waiting')
            self.sync.consume(anchor_ns)
            self.reject('stale_odometry', 'no odometry within odometry_tolerance_s of the '
                                          'camera frames; observation skipped')
            return StepResult('stale_odometry')
        self.sync.consume(anchor_ns)
        history_rate_hz = self._note_spacing(selection)
        cameras = [self._camera_observation(camera, selection.histories[camera.name])
                   for camera in self.config.cameras]
        route_points, command, source, text, command_ns = self._route_and_command(
            ego, now_ns, route_pose)
        return StepResult('ready', Observation(
            stamp_ns=anchor_ns, history_rate_hz=history_rate_hz, cameras=cameras,
            ego=ego, command=command, command_source=source, command_text=text,
            command_stamp_ns=command_ns, route_points=route_points), selection.missing)

    def _explain_warm_up(self) -> None:
        """Say why the anchor camera's history is not complete (and what to change)."""
        config, anchor = self.config, self.config.anchor_camera
        buffer = self.sync.buffers[anchor]
        period = 1.0 / config.history_rate_hz
        gap = buffer.median_gap_ns()
        if not self.sync.too_sparse():
            self.history_note = (f'warming up: {anchor} has {len(buffer.frames)} frame(s), the '
                                 f'history needs {config.history_length} frames '
                                 f'{period:.2f} s apart')
            return
        seen = gap / 1e9
        if config.allow_recorded_spacing:
            self.history_note = (f'warming up: {anchor} frames are {seen:.2f} s apart; '
                                 f'collecting {config.history_length} recorded frames')
            return
        self.history_note = (
            f'{anchor} frames are {seen:.2f} s apart but the history needs one every '
            f'{period:.2f} s (within sync_tolerance_s {config.sync_tolerance_s:g}): no '
            f'observation can be built; set allow_recorded_spacing: true (history from the '
            f'recorded frames) or history_rate_hz: {1.0 / seen:.3g}')
        self.reject('history_spacing', self.history_note)

    def _note_spacing(self, selection) -> float:
        """Record the history spacing the observation carries; return it as a rate (Hz)."""
        spacing = selection.spacing_ns / 1e9 if selection.spacing_ns else \
            1.0 / self.config.history_rate_hz
        self.history_spacing_s = spacing
        if not selection.recorded_spacing:
            self.history_note = f'history {spacing:.2f} s apart as configured'
            return self.config.history_rate_hz
        self.history_note = (
            f'{self.config.anchor_camera} frames are recorded further apart than '
            f'history_rate_hz {self.config.history_rate_hz:g} allows: history built from the '
            f'recorded frames, {spacing:.2f} s apart instead of '
            f'{1.0 / self.config.history_rate_hz:.2f} s (allow_recorded_spacing: false forbids)')
        self.reject('recorded_spacing', self.history_note)
        return 1.0 / spacing

    def _prepare(self, histories: Dict[str, Optional[List[BufferedFrame]]]) -> bool:
        """Decode every selected frame not decoded yet; drop those that fail. True if all ok."""
        all_ok = True
        for camera, frames in histories.items():
            for frame in frames or ():
                slot = frame.payload
                if slot.image is not None:
                    continue
                try:
                    slot.image = decode_compressed(
                        slot.encoded.data, (self.calibrations[camera].width,
                                            self.calibrations[camera].height),
                        self.targets[camera], self.config.max_decode_upscale)
                    slot.encoded = None
                except FrameError as error:
                    self.sync.buffers[camera].remove(frame)
                    self.reject(error.reason, f'{camera}: frame dropped: {error}')
                    all_ok = False
        return all_ok

    def _camera_observation(self, camera: CameraSpec,
                            frames: Optional[List[BufferedFrame]]) -> CameraObservation:
        calibration = self.calibrations[camera.name]
        target = self.targets[camera.name]
        scaled = Calibration(target[0], target[1], scale_intrinsics(
            calibration.intrinsics, (calibration.width, calibration.height), target),
            calibration.distortion_model, calibration.distortion)
        history = [CameraFrame(frame.stamp_ns, frame.payload.frame_id, frame.payload.image)
                   for frame in frames or ()]
        frame_id = history[-1].frame_id if history else ''
        return CameraObservation(camera, scaled, frame_id or camera.name.lower(), history)

    def _route_and_command(self, ego: EgoState, now_ns: int, route_pose):
        config = self.config
        route_points = np.zeros((0, 2))
        derived = route_lib.UNKNOWN
        if self.route is not None:
            pose = None
            if self.route.frame_id and self.route.frame_id != self.odometry_frame \
                    and route_pose is not None:
                pose = route_pose(self.route.frame_id)
            if pose is None and self.route.frame_id not in ('', self.odometry_frame):
                self.reject('route_frame', f'route frame {self.route.frame_id!r} differs '
                                           f'from odometry frame {self.odometry_frame!r} '
                                           'and no transform: using the odometry pose')
            local = route_lib.to_base_link(self.route.points, pose or ego.pose)
            route_points = route_lib.route_ahead(local, config.route_lookahead_m,
                                                 config.route_spacing_m)
            derived = route_lib.command_from_route(local, config.command_lookahead_m,
                                                   config.command_threshold_rad)
        explicit = self.command
        if explicit is not None and now_ns - explicit.arrival_ns <= config.command_timeout_s * 1e9:
            return route_points, explicit.command, SOURCE_TOPIC, explicit.text, explicit.stamp_ns
        if self.route is not None:
            return route_points, derived, SOURCE_ROUTE, '', ego.stamp_ns
        return route_points, route_lib.UNKNOWN, SOURCE_NONE, '', ego.stamp_ns
