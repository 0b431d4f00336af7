"""Golden fidelity: our prompt and pixels against the official AutoVLA code under its pins.

The fixtures in golden/ were written by tools/make_golden_fixtures.py, which ran the official
``AutoVLA.get_prompt`` (transformers 4.49.0, tokenizers 0.21.1, qwen-vl-utils 0.0.10) on the
synthetic frames of golden/frames.py. Here the same frames go through OUR path: perception's
preprocessing (camera image -> model size) and the planner's prompt and vision input.
Tolerance for pixels: mean absolute difference <= 1 level of 255 (golden/README.md).
"""

import importlib.util
import json
from pathlib import Path

from autovla_common.pixel_budget import smart_resize
from autovla_perception.preprocess import convert_raw
from autovla_planner.model_files import add_action_tokens, offline_qwen_tokenizer
from autovla_planner.observation import CameraVideo, Observation
from autovla_planner.prompt import (
    build_messages,
    DEFAULT_CHAT_TEMPLATE,
    encode_prompt,
    PromptTemplate,
    render_chat,
)
from autovla_planner.vision_input import CLIP_MEAN, CLIP_STD, PatchGeometry
import numpy as np
import pytest

from autovla_planner import prompt

GOLDEN = Path(__file__).resolve().parent / 'golden'
CASES = json.loads((GOLDEN / 'prompt_cases.json').read_text(encoding='utf-8'))
BUDGET = CASES['pixel_budget']
MAX_MEAN_LEVEL_DIFF = 1.0
CAMERAS = ('CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT')


def _frames_module():
    spec = importlib.util.spec_from_file_location('golden_frames', GOLDEN / 'frames.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def perceived_video(width: int, height: int) -> np.ndarray:
    """The 4 synthetic camera frames after perception's preprocessing, (4, H, W, 3)."""
    frames = _frames_module()
    target_height, target_width = smart_resize(height, width, BUDGET, BUDGET)
    out = []
    for index in range(4):
        raw = frames.camera_frame(width, height, index)
        image = convert_raw(raw.tobytes(), 'rgb8', width, height, width * 3, False,
                            (target_width, target_height))
        out.append(image.view().copy())
    return np.stack(out)


@pytest.fixture(scope='module')
def tokenizer():
    tokenizer = offline_qwen_tokenizer()
    add_action_tokens(tokenizer)
    return tokenizer


@pytest.fixture(scope='module')
def video():
    return perceived_video(*CASES['frame_size'])


def test_offline_tokenizer_has_the_released_vocabulary_layout(tokenizer):
    layout = CASES['tokenizer']
    assert tokenizer.vocab_size == layout['base_vocabulary'] == 151643
    assert {token: tokenizer.convert_tokens_to_ids(token)
            for token in layout['special_ids']} == layout['special_ids']
    assert tokenizer.convert_tokens_to_ids(['<action_0>', '<action_2047>']) == \
        layout['action_ids'] == [151665, 153712]
    assert len(tokenizer) == layout['size_with_actions']


def test_the_released_model_reads_keep_forward_by_default():
    template = PromptTemplate.load()
    assert template.instruction('KEEP_FORWARD', prompt.DEFAULT_WORDING) == 'keep forward'
    assert template.instruction('KEEP_FORWARD', 'nuscenes') == 'go straight'


@pytest.mark.parametrize('case', CASES['cases'],
                         ids=lambda c: f'{c["system"]}-{c["command"]}-{c["speed"]:.2f}')
def test_prompt_text_and_ids_equal_the_official_ones(case, tokenizer, video):
    observation = Observation(tuple(CameraVideo(name, video) for name in CAMERAS),
                              case['speed'], case['acceleration_magnitude'], case['command'])
    text = render_chat(DEFAULT_CHAT_TEMPLATE.read_text(encoding='utf-8'),
                       build_messages(PromptTemplate.load(), observation, case['system']))
    assert text == case['text']
    inputs = encode_prompt(text, observation, tokenizer, PatchGeometry(), BUDGET, BUDGET, 2.0)
    assert inputs.video_grid_thw.tolist() == case['video_grid_thw']
    assert inputs.input_ids.tolist() == [int(i) for i in case['input_ids'].split()]


def native_video(width: int, height: int) -> np.ndarray:
    """The 4 synthetic camera frames at the camera's own size (nothing resized them yet)."""
    frames = _frames_module()
    return np.stack([frames.camera_frame(width, height, index) for index in range(4)])


@pytest.mark.parametrize('resized_by', ['perception', 'planner'])
@pytest.mark.parametrize('size', [(1600, 900), (1920, 1080)], ids=lambda s: f'{s[0]}x{s[1]}')
def test_pixels_match_the_official_processor(size, resized_by):
    # Normally perception sizes the frames and the planner keeps them; a frame that reaches the
    # planner at another size is resized there, with the same filter.
    golden = np.load(GOLDEN / f'vision_{size[0]}x{size[1]}.npz')
    frames = perceived_video(*size) if resized_by == 'perception' else native_video(*size)
    observation = Observation((CameraVideo('CAM_FRONT', frames),), 0.0, 0.0, 'KEEP_FORWARD')
    inputs = encode_prompt('<|video_pad|>', observation, offline_qwen_tokenizer(),
                           PatchGeometry(), BUDGET, BUDGET, 2.0)
    # Grid and token count: 2 x 16 x 30 patches, 240 merged tokens per camera.
    assert inputs.video_grid_thw.tolist() == golden['video_grid_thw'][:1].tolist()
    assert len(inputs.input_ids) == 240
    patches = inputs.pixel_values_videos.reshape(len(inputs.pixel_values_videos), 3, -1)
    levels = (patches * CLIP_STD[None, :, None] + CLIP_MEAN[None, :, None]) * 255
    levels = levels.reshape(len(levels), -1)
    stride = int(golden['sample_stride'])
    diff = np.abs(levels[::stride] - golden['sample_levels'])
    assert diff.mean() <= MAX_MEAN_LEVEL_DIFF, f'mean {diff.mean():.2f} levels'
    patch_means = levels.mean(axis=1)
    assert np.abs(patch_means - golden['patch_mean_levels']).mean() <= MAX_MEAN_LEVEL_DIFF
