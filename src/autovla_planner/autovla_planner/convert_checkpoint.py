"""``convert_autovla_checkpoint``: released AutoVLA Lightning checkpoint -> model directory.

Inputs: the Lightning ``.ckpt`` (``state_dict`` keys prefixed ``autovla.``; the VLM under
``autovla.vlm.``), the Qwen2.5-VL-3B-Instruct directory it was fine-tuned from (config,
tokenizer, processor files) and the action codebook (official ``agent_vocab.pkl`` or ``.npy``).
The checkpoint is opened with ``torch.load(weights_only=True)`` (memory-mapped when it is a
zip checkpoint): tensors only, no code runs; a plain pickle is refused. LoRA adapters (a
checkpoint of the LoRA RFT stage) are merged into plain weights first (lora_merge.py). Keys are
mapped to transformers' Qwen2_5_VLForConditionalGeneration layout (both the older
``model.layers`` / ``visual`` layout and the current ``model.language_model`` / ``model.visual``
one are accepted), every shape is checked against the base config with the
vocabulary resized for the 2048 action tokens, and the weights are written as sharded
safetensors with the tokenizer (action tokens added), processor files, chat template, codebook
and runtime descriptor.
"""

import argparse
import json
from pathlib import Path
import shutil
from typing import Dict, List, Optional
import zipfile

from autovla_planner.action_codebook import ActionCodebook, default_codebook_path
from autovla_planner.lora_merge import find_lora_settings, has_lora, LoraSettings, merge_lora
from autovla_planner.model_files import (
    add_action_tokens,
    CHAT_TEMPLATE_FILE,
    ModelLoadError,
    NUM_ACTION_TOKENS,
    RuntimeDescriptor,
)
from autovla_planner.prompt import (
    DEFAULT_CHAT_TEMPLATE,
    DEFAULT_TEMPLATE,
    DEFAULT_WORDING,
    PromptTemplate,
)

PROCESSOR_FILES = ('preprocessor_config.json', 'video_preprocessor_config.json',
                   'generation_config.json')
SHARD_BYTES = 2 * 1024 ** 3


def hf_key(key: str) -> Optional[str]:
    """Map a Lightning key to a Qwen2_5_VLForConditionalGeneration key (None = not the VLM)."""
    for prefix in ('autovla.', 'drivevla.'):
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    if not key.startswith('vlm.'):
        return None
    key = key[len('vlm.'):]
    if key.startswith('visual.'):
        return 'model.' + key
    if key.startswith('model.') and not key.startswith(('model.language_model.',
                                                        'model.visual.')):
        return 'model.language_model.' + key[len('model.'):]
    return key


def chat_template_of(base: Path) -> str:
    """Return the base model's chat template (jinja or json), else ours."""
    if (base / CHAT_TEMPLATE_FILE).is_file():
        return (base / CHAT_TEMPLATE_FILE).read_text(encoding='utf-8')
    for name in ('chat_template.json', 'tokenizer_config.json'):
        path = base / name
        if path.is_file():
            template = json.loads(path.read_text(encoding='utf-8')).get('chat_template')
            if isinstance(template, str) and 'video_pad' in template:
                return template
    return DEFAULT_CHAT_TEMPLATE.read_text(encoding='utf-8')


def write_shards(tensors: Dict[str, 'object'], out_dir: Path, shard_bytes: int) -> List[str]:
    """Write tensors as safetensors shards plus the Hugging Face index; return shard names."""
    from safetensors.torch import save_file

    groups, current, size = [], {}, 0
    for name in sorted(tensors):
        nbytes = tensors[name].numel() * tensors[name].element_size()
        if current and size + nbytes > shard_bytes:
            groups.append(current)
            current, size = {}, 0
        current[name] = tensors[name]
        size += nbytes
    groups.append(current)
    names = [f'model-{i + 1:05d}-of-{len(groups):05d}.safetensors' for i in range(len(groups))]
    weight_map = {}
    for name, group in zip(names, groups):
        save_file({k: v.contiguous() for k, v in group.items()}, str(out_dir / name),
                  metadata={'format': 'pt'})
        weight_map.update(dict.fromkeys(group, name))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    (out_dir / 'model.safetensors.index.json').write_text(json.dumps(
        {'metadata': {'total_size': total}, 'weight_map': weight_map}, indent=2) + '\n')
    return names


def load_checkpoint(checkpoint: Path):
    """Load a torch.save file without running code (weights_only); ModelLoadError if refused."""
    import torch

    zipped = zipfile.is_zipfile(checkpoint)   # mmap needs the zip format of torch.save
    try:
        return torch.load(checkpoint, weights_only=True, map_location='cpu', mmap=zipped)
    except Exception as error:  # noqa: BLE001 - any refusal becomes one clear message
        if not zipped:
            raise ModelLoadError(
                f'{checkpoint} is not a torch.save zip checkpoint (a plain pickle?): refused, '
                'since unpickling it could run arbitrary code. Re-save its state_dict with '
                'torch.save (or as safetensors) where you trust the file, then convert that.') \
                from None
        reason = str(error).strip().splitlines()[-1][:200]
        raise ModelLoadError(f'{checkpoint}: torch.load(weights_only=True) refused it, it holds '
                             f'more than tensors and plain containers ({reason})') from None


def convert(checkpoint: Path, base: Path, out_dir: Path, codebook_path: Optional[Path],
            model_id: str, shard_bytes: int = SHARD_BYTES, lora: Optional[LoraSettings] = None,
            instruction_wording: str = DEFAULT_WORDING) -> RuntimeDescriptor:
    """Convert; raise ModelLoadError naming the first problem.

    ``lora`` overrides the LoRA hyper-parameters saved in the checkpoint;
    ``instruction_wording`` is the dataset wording of the driving instruction the weights were
    trained on (prompt template ``instructions``; the released checkpoint: navsim).
    """
    import torch
    from transformers import AutoTokenizer, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    PromptTemplate.load().instruction('UNKNOWN', instruction_wording)   # known wording?
    codebook_path = codebook_path or default_codebook_path()
    if not codebook_path.is_file():
        raise ModelLoadError(f'codebook {codebook_path} not found: pass --codebook')
    codebook = ActionCodebook.load(codebook_path)
    tokenizer = AutoTokenizer.from_pretrained(base)
    add_action_tokens(tokenizer, NUM_ACTION_TOKENS)
    config = Qwen2_5_VLConfig.from_pretrained(base)
    config.text_config.vocab_size = len(tokenizer)
    with torch.device('meta'):
        skeleton = Qwen2_5_VLForConditionalGeneration(config)
    expected = {name: tuple(tensor.shape) for name, tensor in skeleton.state_dict().items()}
    tied = bool(getattr(config, 'tie_word_embeddings', False) or
                getattr(config.text_config, 'tie_word_embeddings', False))
    if tied:
        expected.pop('lm_head.weight', None)
    document = load_checkpoint(checkpoint)
    state = document.get('state_dict', document) if isinstance(document, dict) else None
    if not isinstance(state, dict):
        raise ModelLoadError(f'{checkpoint}: no state_dict in the checkpoint')
    notes = {}
    if has_lora(state):
        settings = lora or find_lora_settings(document.get('hyper_parameters'))
        if settings is None:
            raise ModelLoadError(f'{checkpoint} holds LoRA adapters but its hyper_parameters '
                                 'name no LoRA r and alpha: pass --lora-r and --lora-alpha')
        try:
            state = merge_lora(state, settings)
        except ValueError as error:
            raise ModelLoadError(f'{checkpoint}: cannot merge its LoRA adapters: {error}') \
                from None
        notes['lora_merged'] = f'r={settings.r} alpha={settings.alpha:g} scale={settings.scale:g}'
    tensors = {}
    for key, tensor in state.items():
        name = hf_key(key)
        if name is None or (tied and name == 'lm_head.weight'):
            continue
        tensors[name] = tensor
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [f'{name} {tuple(tensors[name].shape)} != {expected[name]}'
             for name in sorted(set(tensors) & set(expected))
             if tuple(tensors[name].shape) != expected[name]]
    if missing or unexpected or wrong:
        raise ModelLoadError(
            f'{checkpoint} does not match {base} with {len(tokenizer)} tokens: '
            f'{len(missing)} missing (e.g. {missing[:3]}), {len(unexpected)} unexpected '
            f'(e.g. {unexpected[:3]}), {len(wrong)} wrong shapes (e.g. {wrong[:3]})')
    out_dir.mkdir(parents=True, exist_ok=True)
    write_shards(tensors, out_dir, shard_bytes)
    config.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    for name in PROCESSOR_FILES:
        if (base / name).is_file():
            shutil.copyfile(base / name, out_dir / name)
    (out_dir / CHAT_TEMPLATE_FILE).write_text(chat_template_of(base), encoding='utf-8')
    descriptor = RuntimeDescriptor(model_id=model_id, instruction_wording=instruction_wording,
                                   notes={'checkpoint': checkpoint.name,
                                          'base_model': base.name,
                                          'codebook': codebook_path.name, **notes})
    shutil.copyfile(DEFAULT_TEMPLATE, out_dir / descriptor.prompt_template)
    codebook.save(out_dir / descriptor.codebook)
    descriptor.save(out_dir)
    return descriptor


def main(argv: Optional[list] = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, required=True,
                        help='AutoVLA Lightning .ckpt (e.g. AutoVLA_PDMS_89.ckpt)')
    parser.add_argument('--base-model', type=Path, required=True,
                        help='Qwen2.5-VL-3B-Instruct directory')
    parser.add_argument('--out', type=Path, required=True, help='model directory to write')
    parser.add_argument('--codebook', type=Path, default=None,
                        help='agent_vocab.pkl or .npy (default: the package codebook)')
    parser.add_argument('--model-id', default=None, help='default: the checkpoint file stem')
    parser.add_argument('--instruction-wording', default=DEFAULT_WORDING,
                        choices=sorted(PromptTemplate.load().instructions),
                        help='driving-instruction wording of the training data (navsim: '
                        '"keep forward", the released checkpoint; nuscenes: "go straight")')
    parser.add_argument('--lora-r', type=int, default=None,
                        help='LoRA rank, if the checkpoint has adapters but no saved '
                        'hyper-parameters (the official RFT: 8)')
    parser.add_argument('--lora-alpha', type=float, default=None,
                        help='LoRA alpha, with --lora-r (the official RFT: 8)')
    args = parser.parse_args(argv)
    if (args.lora_r is None) != (args.lora_alpha is None) or (args.lora_r or 1) < 1:
        parser.error('--lora-r (>= 1) and --lora-alpha go together')
    lora = LoraSettings(args.lora_alpha, args.lora_r) if args.lora_r else None
    try:
        descriptor = convert(args.checkpoint, args.base_model, args.out, args.codebook,
                             args.model_id or args.checkpoint.stem, lora=lora,
                             instruction_wording=args.instruction_wording)
    except (ModelLoadError, OSError, ValueError) as error:
        print(f'convert_autovla_checkpoint: {error}')
        return 1
    print(f'wrote {descriptor.model_id} to {args.out}')
    return 0
