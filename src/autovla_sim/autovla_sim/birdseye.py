"""Bird's-eye frames of a run for the report: the world around the car, heading up, plus text.

ROS-free. ``frame`` draws the ground polygons, the route, every road user and the ego (green)
in a square window centred on the car; ``panel`` puts it beside the front camera image with
the time, the safety mode and the planner's explanation underneath.
"""

import math
from typing import Sequence

from autovla_scenarios.geometry import box_corners
from autovla_scenarios.render import GroundPolygon
from autovla_scenarios.world import AGENT_CLASSES, EGO_LENGTH_M, EGO_WIDTH_M, Scenario
import cv2
import numpy as np

from autovla_sim.traffic import AgentBox

EGO_COLOR = (60, 200, 60)
ROUTE_COLOR = (255, 200, 0)
TEXT_COLOR = (255, 255, 255)


def frame(scenario: Scenario, ground: Sequence[GroundPolygon], pose, agents: Sequence[AgentBox],
          size: int = 240, metres: float = 60.0) -> np.ndarray:
    """BGR image of the ``metres`` x ``metres`` square around ``pose``, heading up."""
    ex, ey, eyaw = pose
    scale = size / metres
    c, s = math.cos(eyaw), math.sin(eyaw)

    def pixels(xy: np.ndarray) -> np.ndarray:
        dx, dy = xy[:, 0] - ex, xy[:, 1] - ey
        forward, left = c * dx + s * dy, -s * dx + c * dy
        # The car sits in the lower third, looking up the image.
        return np.column_stack([size / 2 - left * scale,
                                size * 2 / 3 - forward * scale]).round().astype(np.int32)

    image = np.full((size, size, 3), (70, 125, 85), np.uint8)
    for polygon in ground:
        if np.min(np.hypot(polygon.xy[:, 0] - ex, polygon.xy[:, 1] - ey)) < metres:
            cv2.fillPoly(image, [pixels(polygon.xy)], polygon.color)
    route = scenario.route.xy
    near = np.hypot(route[:, 0] - ex, route[:, 1] - ey) < metres
    if near.any():
        cv2.polylines(image, [pixels(route[near])], False, ROUTE_COLOR, 1, cv2.LINE_AA)
    for agent in agents:
        if math.hypot(agent.x - ex, agent.y - ey) < metres:
            color = AGENT_CLASSES.get(agent.kind, ((0, 0, 0), (200, 200, 200)))[1]
            cv2.fillPoly(image, [pixels(box_corners(*agent.box))], color)
    cv2.fillPoly(image, [pixels(box_corners(ex, ey, eyaw, EGO_LENGTH_M, EGO_WIDTH_M))],
                 EGO_COLOR)
    return image


def panel(birdseye: np.ndarray, camera: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Bird's-eye view and camera side by side (same height) with text lines below."""
    height = birdseye.shape[0]
    width = int(round(camera.shape[1] * height / camera.shape[0]))
    top = np.hstack([birdseye, cv2.resize(camera, (width, height),
                                          interpolation=cv2.INTER_AREA)])
    text = np.zeros((18 * len(lines) + 8, top.shape[1], 3), np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(text, line[:110], (6, 18 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    TEXT_COLOR, 1, cv2.LINE_AA)
    return np.vstack([top, text])
