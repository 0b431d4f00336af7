from pathlib import Path

from autovla_common.rig import load_rig, save_rig
import numpy as np
import pytest

RIG = Path(__file__).resolve().parents[3] / 'config' / 'rigs' / 'nuscenes.yaml'


def test_nuscenes_rig_loads_six_cameras_in_order():
    rig = load_rig(RIG)
    assert rig.names == ['CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT', 'CAM_BACK',
                         'CAM_BACK_LEFT', 'CAM_BACK_RIGHT']


def test_point_on_front_camera_axis_projects_to_principal_point():
    front = load_rig(RIG).camera('CAM_FRONT')
    # 20 m along the optical axis, expressed in base_link by hand from the quaternion.
    axis = front.rotation_matrix @ np.array([0.0, 0.0, 1.0])
    point = np.array(front.translation) + 20.0 * axis
    uv, depth = front.project(point[None, :])
    np.testing.assert_allclose(uv[0], front.intrinsics[2:], atol=1e-6)
    assert depth[0] == pytest.approx(20.0)
    # The front camera looks forward: its optical axis is mostly +x of base_link.
    assert axis[0] > 0.99


def test_point_ahead_is_behind_the_back_camera():
    back = load_rig(RIG).camera('CAM_BACK')
    _, depth = back.project(np.array([[20.0, 0.0, 1.0]]))
    assert depth[0] < 0


def test_bad_rig_is_rejected_with_the_field_named(tmp_path):
    path = tmp_path / 'rig.yaml'
    path.write_text('cameras:\n  - name: A\n    width: 10\n    height: 10\n'
                    '    intrinsics: [1, 1, 1]\n    translation: [0, 0, 0]\n'
                    '    rotation_xyzw: [0, 0, 0, 1]\n')
    with pytest.raises(ValueError, match='intrinsics must be a list of 4'):
        load_rig(path)
    path.write_text(path.read_text().replace('[1, 1, 1]', '[1, 1, 1, 1]').replace(
        '[0, 0, 0, 1]', '[0, 0, 0, 2]'))
    with pytest.raises(ValueError, match='not a unit quaternion'):
        load_rig(path)


def test_resized_rig_scales_intrinsics_and_keeps_the_view(tmp_path):
    rig = load_rig(RIG)
    half = rig.resized(800, 450)
    front, small = rig.camera('CAM_FRONT'), half.camera('CAM_FRONT')
    assert (small.width, small.height) == (800, 450)
    np.testing.assert_allclose(small.intrinsics, np.array(front.intrinsics) / 2.0)
    assert small.rotation_xyzw == front.rotation_xyzw
    # Same 3D point, half the pixel coordinates.
    point = np.array([[15.0, 2.0, 1.0]])
    np.testing.assert_allclose(small.project(point)[0], front.project(point)[0] / 2.0)


def test_saved_rig_loads_back_identical(tmp_path):
    rig = load_rig(RIG).resized(640, 360)
    save_rig(rig, tmp_path / 'rig.yaml', 'made by a test\nsecond line')
    text = (tmp_path / 'rig.yaml').read_text()
    assert text.startswith('# made by a test\n# second line\n')
    assert load_rig(tmp_path / 'rig.yaml') == rig
