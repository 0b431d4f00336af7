"""TF frames from the rig and from odometry (ROS-free)."""

from pathlib import Path

from autovla_common.frames import camera_frame, camera_transforms, odometry_transform
from autovla_common.rig import load_rig
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

RIG = Path(__file__).resolve().parents[3] / 'config/rigs/nuscenes.yaml'


def test_camera_frames_carry_the_rig_extrinsics():
    rig = load_rig(RIG)
    transforms = camera_transforms(rig, 'base_link', 5)
    assert [t.child for t in transforms] == [f'{name}_optical' for name in rig.names]
    assert {t.parent for t in transforms} == {'base_link'} and transforms[0].stamp_ns == 5
    front = rig.camera('CAM_FRONT')
    [front_tf] = [t for t in transforms if t.child == camera_frame('CAM_FRONT')]
    # The transform maps optical-frame points into base_link exactly like the rig does:
    # the optical axis (z) of the front camera looks forward (+x in base_link).
    rotation = Rotation.from_quat(front_tf.rotation_xyzw).as_matrix()
    np.testing.assert_allclose(rotation, front.rotation_matrix, atol=1e-9)
    assert rotation[:, 2] @ np.array([1.0, 0.0, 0.0]) > 0.99
    assert front_tf.translation == tuple(front.translation)


def test_odometry_transform_normalises_and_refuses_bad_poses():
    transform = odometry_transform(7, 'odom', 'base_link', (1.0, 2.0, 0.0),
                                   (0.0, 0.0, 0.70710678, 0.70710679))
    assert transform.parent == 'odom' and transform.child == 'base_link'
    assert sum(v * v for v in transform.rotation_xyzw) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match='not finite'):
        odometry_transform(7, 'odom', 'base_link', (float('nan'), 0.0, 0.0), (0, 0, 0, 1))
    with pytest.raises(ValueError, match='unit quaternion'):
        odometry_transform(7, 'odom', 'base_link', (0.0, 0.0, 0.0), (0, 0, 0, 0))
    with pytest.raises(ValueError, match='cannot form'):
        odometry_transform(7, '', 'base_link', (0.0, 0.0, 0.0), (0, 0, 0, 1))
