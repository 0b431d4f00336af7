"""The official AutoVLA prompt, built from an Observation, and its model inputs.

The wording lives in data/autovla_prompt.yaml (credited to its source); this module only
assembles it: system prompt, user turn (rig sentence, per camera a sentence and its video,
state sentence), rendered through the model's chat template (without vision ids, as the
released weights saw it), then tokenized with each video placeholder expanded to the video's
number of merged patches. The driving instruction is worded as in the model's training data.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union

import jinja2.sandbox
import numpy as np
import yaml

from autovla_planner.observation import COMMANDS, Observation
from autovla_planner.vision_input import PatchGeometry, video_patches

DATA_DIR = Path(__file__).resolve().parent / 'data'
DEFAULT_TEMPLATE = DATA_DIR / 'autovla_prompt.yaml'
DEFAULT_CHAT_TEMPLATE = DATA_DIR / 'qwen2_5_vl_chat_template.jinja'
VIDEO_PAD = '<|video_pad|>'
VIDEO_TOKEN_TYPE = 2  # mm_token_type_ids: text 0, image 1, video 2
DEFAULT_WORDING = 'navsim'   # the released checkpoint was trained on NAVSIM/nuPlan commands

_REQUIRED_KEYS = ('system_prompts', 'rig_sentence', 'camera_sentences', 'state_sentence',
                  'instructions', 'think_start', 'fast_sentence', 'slow_sentence', 'think_end',
                  'answer_lead_in', 'answer_end', 'slow_marker', 'official_sampling')


@dataclass(frozen=True)
class PromptTemplate:
    """The prompt wording and output format, as loaded from the template YAML."""

    system_prompts: Dict[str, str]
    rig_sentence: str
    camera_sentences: Tuple[str, ...]
    state_sentence: str
    instructions: Dict[str, Dict[str, str]]   # wording -> command -> instruction
    think_start: str
    fast_sentence: str
    slow_sentence: str
    think_end: str
    answer_lead_in: str
    answer_end: str
    slow_marker: str
    official_sampling: Dict[str, float]

    @classmethod
    def load(cls, path: Union[str, Path] = DEFAULT_TEMPLATE) -> 'PromptTemplate':
        """Read and check a template YAML."""
        with open(path, encoding='utf-8') as stream:
            document = yaml.safe_load(stream) or {}
        missing = [key for key in _REQUIRED_KEYS if key not in document]
        if missing:
            raise ValueError(f'{path}: prompt template lacks {", ".join(missing)}')
        document['camera_sentences'] = tuple(document['camera_sentences'])
        instructions = document['instructions']
        if not isinstance(instructions, dict) or not all(
                isinstance(words, dict) and set(words) == set(COMMANDS)
                for words in instructions.values()):
            raise ValueError(f'{path}: `instructions` must map each wording to the commands '
                             f'{", ".join(COMMANDS)}')
        return cls(**{key: document[key] for key in _REQUIRED_KEYS})

    def instruction(self, command: str, wording: str = DEFAULT_WORDING) -> str:
        """Return the lower-case instruction for ``command`` in a training set's ``wording``."""
        if wording not in self.instructions:
            raise ValueError(f'instruction wording {wording!r} is not one of '
                             f'{sorted(self.instructions)}')
        return self.instructions[wording][command]

    @property
    def fast_thinking(self) -> str:
        """The whole assistant text before the action tokens in fast mode."""
        return self.think_start + self.fast_sentence + self.think_end + self.answer_lead_in

    @property
    def slow_thinking_start(self) -> str:
        """The assistant text that opens a slow-thinking answer."""
        return self.think_start + self.slow_sentence


def state_text(template: PromptTemplate, speed: float, acceleration: float, command: str,
               wording: str = DEFAULT_WORDING) -> str:
    """Format the user turn's last sentence: velocity, acceleration, instruction."""
    return template.state_sentence.format(velocity=f'{speed:.3f}',
                                          acceleration=f'{acceleration:.3f}',
                                          instruction=template.instruction(command, wording))


def build_messages(template: PromptTemplate, observation: Observation, system: str = 'cot',
                   wording: str = DEFAULT_WORDING) -> List[Dict[str, Any]]:
    """Chat messages in the official structure; each video part names its camera."""
    if len(observation.cameras) > len(template.camera_sentences):
        raise ValueError(f'the template describes {len(template.camera_sentences)} cameras, '
                         f'the observation has {len(observation.cameras)}')
    user: List[Dict[str, Any]] = [{'type': 'text', 'text': template.rig_sentence}]
    for sentence, camera in zip(template.camera_sentences, observation.cameras):
        user.append({'type': 'text', 'text': sentence})
        user.append({'type': 'video', 'video': camera.name})
    user.append({'type': 'text', 'text': state_text(template, observation.speed,
                                                    observation.acceleration,
                                                    observation.command, wording)})
    return [{'role': 'system', 'content': [{'type': 'text',
                                            'text': template.system_prompts[system]}]},
            {'role': 'user', 'content': user}]


def render_chat(chat_template: str, messages: Sequence[Dict[str, Any]]) -> str:
    """Render messages with a Jinja chat template (generation prompt on, no vision ids)."""
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True,
                                                               lstrip_blocks=True)
    return environment.from_string(chat_template).render(
        messages=messages, add_generation_prompt=True, add_vision_id=False)


@dataclass
class PromptInputs:
    """Token ids and vision tensors of one prompt (numpy; the runtime moves them to torch)."""

    input_ids: np.ndarray            # (L,) int64, video placeholders expanded
    token_types: np.ndarray          # (L,) int64, 0 text / 2 video
    pixel_values_videos: np.ndarray  # (sum of patches, patch dim) float32
    video_grid_thw: np.ndarray       # (num_videos, 3) int64
    seconds_per_grid: np.ndarray     # (num_videos,) float32, temporal_patch_size / frame rate

    @property
    def prefix_length(self) -> int:
        """Number of leading text tokens before the first video token (observation-free)."""
        video = np.flatnonzero(self.token_types == VIDEO_TOKEN_TYPE)
        return int(video[0]) if len(video) else len(self.input_ids)


def encode_prompt(text: str, observation: Observation, tokenizer, geometry: PatchGeometry,
                  min_pixels: int, max_pixels: int, frame_rate_hz: float) -> PromptInputs:
    """Tokenize ``text`` and cut each camera's frames into patches, expanding placeholders."""
    pieces = text.split(VIDEO_PAD)
    if len(pieces) - 1 != len(observation.cameras):
        raise ValueError(f'prompt has {len(pieces) - 1} video placeholders for '
                         f'{len(observation.cameras)} cameras')
    video_id = tokenizer.convert_tokens_to_ids(VIDEO_PAD)
    ids: List[int] = []
    types: List[int] = []
    patches, grids = [], []
    for index, piece in enumerate(pieces):
        piece_ids = tokenizer.encode(piece, add_special_tokens=False)
        ids += piece_ids
        types += [0] * len(piece_ids)
        if index == len(observation.cameras):
            break
        camera_patches, grid = video_patches(observation.cameras[index].frames, geometry,
                                             min_pixels, max_pixels)
        count = len(camera_patches) // geometry.merge_size ** 2
        ids += [video_id] * count
        types += [VIDEO_TOKEN_TYPE] * count
        patches.append(camera_patches)
        grids.append(grid)
    return PromptInputs(
        input_ids=np.asarray(ids, dtype=np.int64),
        token_types=np.asarray(types, dtype=np.int64),
        pixel_values_videos=np.concatenate(patches) if patches else np.zeros((0, 0), np.float32),
        video_grid_thw=np.asarray(grids, dtype=np.int64).reshape(-1, 3),
        seconds_per_grid=np.full(len(grids), geometry.temporal_patch_size / frame_rate_hz,
                                 dtype=np.float32))
