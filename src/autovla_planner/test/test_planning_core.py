"""Pure planning helpers: trajectory kinematics and meta-actions, confidence, reasoning policy,
vision patch layout, prompt text."""

import math

from autovla_planner.confidence import confidence, Uncertainty
from autovla_planner.observation import CameraVideo, Observation, select_cameras
from autovla_planner.prompt import (
    build_messages,
    DEFAULT_CHAT_TEMPLATE,
    PromptTemplate,
    render_chat,
)
from autovla_planner.reasoning_policy import ReasoningPolicy
from autovla_planner.trajectory import kinematics, meta_actions
from autovla_planner.vision_input import (
    CLIP_MEAN,
    CLIP_STD,
    PatchGeometry,
    video_patches,
)
import numpy as np
import pytest


def straight(step_m, count=10):
    return np.array([[step_m * (i + 1), 0.0, 0.0] for i in range(count)])


def test_kinematics_of_a_constant_speed_line():
    motion = kinematics(straight(2.0), current_speed=3.0)
    np.testing.assert_allclose(motion.velocity, 4.0)
    np.testing.assert_allclose(motion.acceleration, [2.0] + [0.0] * 9)
    np.testing.assert_allclose(motion.curvature, 0.0)


def test_kinematics_of_a_circle_has_its_curvature():
    radius, arc = 20.0, 0.05   # 1 m of arc per step
    angles = arc * np.arange(1, 11)
    poses = np.column_stack([radius * np.sin(angles), radius * (1 - np.cos(angles)), angles])
    motion = kinematics(poses, current_speed=2.0)
    chord = 2 * radius * math.sin(arc / 2)
    np.testing.assert_allclose(motion.velocity, chord / 0.5, rtol=1e-9)
    np.testing.assert_allclose(motion.curvature, arc / chord, rtol=1e-9)


@pytest.mark.parametrize('poses,speed,expected', [
    (straight(2.0), 4.0, ('move forward', 'maintain constant speed')),
    (np.zeros((10, 3)), 0.0, ('move forward', 'stop')),
    (np.vstack([straight(1.0, 5), np.tile([[5.0, 0, 0]], (5, 1))]), 2.0,
     ('move forward', 'deceleration to zero')),
    (straight(1.0), 10.0, ('move forward', 'quick deceleration')),  # 10 -> 2 m/s in 5 s
    (straight(1.0), 6.0, ('move forward', 'deceleration')),         # 6 -> 2 m/s in 5 s
    (straight(3.0), 4.0, ('move forward', 'acceleration')),         # 4 -> 6 m/s in 5 s
    (straight(4.0), 0.0, ('move forward', 'quick acceleration')),   # 0 -> 8 m/s in 5 s
])
def test_longitudinal_meta_actions(poses, speed, expected):
    assert meta_actions(poses, speed)[:2] == expected


def test_lateral_meta_actions():
    turn = np.array([[2.0 * (i + 1), 0.1 * (i + 1) ** 2, 0.08 * (i + 1)] for i in range(10)])
    assert meta_actions(turn, 4.0)[0] == 'turn left'
    mirrored = turn * [1, -1, -1]
    assert meta_actions(mirrored, 4.0)[0] == 'turn right'
    lane_change = np.column_stack([2.0 * np.arange(1, 11), np.linspace(0.35, 3.5, 10),
                                   np.zeros(10)])
    assert meta_actions(lane_change, 4.0)[0] == 'change lane to left'
    assert meta_actions(lane_change * [1, -1, 1], 4.0)[0] == 'change lane to right'


def test_confidence_formula_by_hand():
    k = 2048
    uniform = Uncertainty(-math.log(k), -math.log(k), math.log(k))
    assert confidence(uniform, k) == pytest.approx(0.0, abs=1e-12)
    assert confidence(Uncertainty(0.0, 0.0, 0.0), k) == pytest.approx(1.0)
    # exp((-0.2 - 0.6) / 2) * (1 - 0.5 / ln 2048)
    expected = math.exp(-0.4) * (1 - 0.5 / math.log(2048))
    assert confidence(Uncertainty(-0.2, -0.6, 0.5), k) == pytest.approx(expected)
    sampled = Uncertainty(-0.2, -0.6, 0.5, num_samples=4, sample_spread_m=1.0)
    assert confidence(sampled, k) == pytest.approx(expected * math.exp(-0.5))


def test_policy_forces_fast_when_slow_does_not_fit_the_budget():
    policy = ReasoningPolicy('auto', latency_budget_s=2.0, expected_reasoning_tokens=100)
    assert policy.decide('slow', 'p', 0.1, 10)[0] == 'slow'   # nothing measured yet
    policy.record(action_token_s=0.01, reasoning_token_s=0.05, reasoning_tokens=100)
    mode, reason = policy.decide('slow', 'p', 0.5, 10)      # 0.5 + 100*0.05 + 10*0.01 = 5.6 s
    assert mode == 'fast' and 'latency budget' in reason and '5.60' in reason
    assert policy.decide('fast', 'p', 0.5, 10)[0] == 'fast'
    assert ReasoningPolicy('auto', 0.0).decide('slow', 'p', 9.0, 10)[0] == 'slow'
    assert policy.reasoning_token_limit(0.5, 10, 512) == 28   # (2 - 0.5 - 0.1) / 0.05
    assert ReasoningPolicy('fast').forced() == ('fast', 'fast thinking forced by parameter')


def test_reasoning_time_is_bounded_by_the_budget_even_before_anything_was_measured():
    policy = ReasoningPolicy('auto', latency_budget_s=1.0)
    assert policy.reasoning_time_left(0.25, 10) == pytest.approx(0.75)   # nothing measured
    policy.record(action_token_s=0.02, reasoning_token_s=None, reasoning_tokens=None)
    assert policy.reasoning_time_left(0.25, 10) == pytest.approx(0.55)   # 10 actions: 0.2 s
    assert policy.reasoning_time_left(2.0, 10) == 0.0
    assert ReasoningPolicy('auto', latency_budget_s=0.0).reasoning_time_left(5.0, 10) is None


def test_the_slow_threshold_sets_how_sure_the_model_must_be_to_think():
    assert ReasoningPolicy().model_choice(0.6, 0.4)[0] == 'fast'   # 0.5: the likelier one
    assert ReasoningPolicy().model_choice(0.4, 0.6)[0] == 'slow'
    eager = ReasoningPolicy(slow_threshold=0.05)
    # only the two sentences' shares count: 0.02 / (0.2 + 0.02) = 0.09 > 0.05
    mode, note = eager.model_choice(0.2, 0.02)
    assert mode == 'slow' and 'slow share 0.0909 vs threshold 0.05' in note
    assert eager.model_choice(0.95, 0.03)[0] == 'fast'   # 0.03 / 0.98 = 0.031
    with pytest.raises(ValueError, match='slow threshold must be in'):
        ReasoningPolicy(slow_threshold=1.0)


def test_video_patch_layout_groups_merge_blocks():
    geometry = PatchGeometry(patch_size=14, temporal_patch_size=2, merge_size=2)
    frames = np.zeros((4, 28, 56, 3), dtype=np.uint8)
    for t in range(4):
        frames[t] = 10 * t
    frames[:, 0:14, 14:28, 0] += 100   # red marks the patch at row 0, column 1
    patches, grid = video_patches(frames, geometry, 28 * 56, 28 * 56)
    assert grid == (2, 2, 4)
    assert patches.shape == (16, 3 * 2 * 14 * 14)

    def value(level, channel):
        return (level / 255.0 - CLIP_MEAN[channel]) / CLIP_STD[channel]
    # Order within a time step: 2x2 merge block (rows 0-1, cols 0-1), then cols 2-3; so the
    # patch at row 0, col 1 is the 2nd and the patch at row 1, col 0 the 3rd.
    first_red = patches[1].reshape(3, 2, 14, 14)[0]
    np.testing.assert_allclose(first_red[0], value(100, 0), atol=1e-5)   # frame 0
    np.testing.assert_allclose(first_red[1], value(110, 0), atol=1e-5)   # frame 1
    np.testing.assert_allclose(patches[2].reshape(3, 2, 14, 14)[0, 0], value(0, 0), atol=1e-5)
    np.testing.assert_allclose(patches[9].reshape(3, 2, 14, 14)[0, 0], value(120, 0), atol=1e-5)


def test_short_history_is_padded_with_the_oldest_frame_and_missing_camera_rejected():
    frames = np.stack([np.full((28, 28, 3), v, np.uint8) for v in (1, 2)])
    selected = select_cameras([CameraVideo('A', frames)], ['A'], 4)
    assert [int(f[0, 0, 0]) for f in selected[0].frames] == [1, 1, 1, 2]
    with pytest.raises(ValueError, match='camera B missing'):
        select_cameras([CameraVideo('A', frames)], ['A', 'B'], 4)


def test_prompt_text_matches_the_official_layout():
    frames = np.zeros((4, 28, 28, 3), np.uint8)
    observation = Observation(tuple(CameraVideo(n, frames) for n in 'ABC'), 4.0, 0.25,
                              'TURN_LEFT')
    text = render_chat(DEFAULT_CHAT_TEMPLATE.read_text(),
                       build_messages(PromptTemplate.load(), observation, 'short'))
    video = '<|vision_start|><|video_pad|><|vision_end|>'
    expected = (
        '<|im_start|>system\nYou are an Advanced Driver Assistance and Full Self-Driving '
        'System. You will be provided with video observations from the ego vehicle’s '
        'surrounding cameras, along with the vehicle’s current dynamic states. Your task is to '
        'predict the most appropriate driving action for the next five seconds.<|im_end|>\n'
        '<|im_start|>user\nThe autonomous vehicle is equipped with three cameras mounted at '
        'the front, left, and right, enabling a comprehensive perception of the surrounding '
        'environment.The first video presents the front view of the vehicle, comprising four '
        f'sequential frames sampled at 2 Hz.{video}The second video presents the '
        'front-left view of the vehicle, comprising four sequential frames sampled at 2 Hz.'
        f'{video}The third video presents the front-right view of the vehicle, '
        f'comprising four sequential frames sampled at 2 Hz.{video}The current '
        'velocity of the vehicle is 4.000 m/s, and the current acceleration is 0.250 m/s². '
        'The driving instruction is: turn left. Based on this information, plan the action '
        'trajectory for the autonomous vehicle over the next five seconds.<|im_end|>\n'
        '<|im_start|>assistant\n')
    assert text == expected


def test_cot_system_prompt_lists_the_five_steps_and_meta_actions():
    cot = PromptTemplate.load().system_prompts['cot']
    for step in ('1. **Scene Analysis**', '2. **Identification of Critical Objects**',
                 '3. **Prediction of Critical Object Behavior**',
                 '4. **Ego Vehicle Intent Reasoning**', '5. **Final Action Decision**'):
        assert step in cot
    assert ('[stop, deceleration to zero, maintain constant speed, quick deceleration, '
            'deceleration, quick acceleration, acceleration]') in cot
