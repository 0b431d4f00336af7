"""convert_autovla_checkpoint on a real (tiny) Lightning-layout checkpoint."""

import json
import pickle

from autovla_planner.convert_checkpoint import convert, hf_key
from autovla_planner.model_files import (
    FIRST_ACTION_ID,
    ModelLoadError,
    offline_qwen_tokenizer,
    random_model_dir,
    TINY_CONFIG,
    tiny_model_config,
)
from autovla_planner.runtime import PlannerRuntime
import numpy as np
import pytest
import torch
from transformers import Qwen2_5_VLForConditionalGeneration
import yaml


def legacy_key(name):
    """Key as the released checkpoint stores it (transformers 4.x layout, autovla.vlm.)."""
    if name.startswith('model.language_model.'):
        name = 'model.' + name[len('model.language_model.'):]
    elif name.startswith('model.visual.'):
        name = name[len('model.'):]
    return 'autovla.vlm.' + name


@pytest.fixture(scope='module')
def base_and_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp('convert')
    document = yaml.safe_load(TINY_CONFIG.read_text())
    torch.manual_seed(3)
    model = Qwen2_5_VLForConditionalGeneration(tiny_model_config(document))
    state = {legacy_key(k): v.clone() for k, v in model.state_dict().items()}
    state['autovla.some_head.weight'] = torch.zeros(2)   # not part of the VLM: ignored
    checkpoint = root / 'AutoVLA_tiny.ckpt'
    torch.save({'state_dict': state, 'epoch': 3, 'global_step': 10}, checkpoint)
    base = root / 'Qwen2.5-VL-tiny'
    base_config = tiny_model_config(document)
    base_config.text_config.vocab_size = 151936   # the Qwen2.5-VL config before resizing
    base_config.save_pretrained(base)
    offline_qwen_tokenizer().save_pretrained(base)
    return base, checkpoint, model


def test_key_mapping_handles_both_layouts():
    assert hf_key('autovla.vlm.model.layers.0.mlp.up_proj.weight') == \
        'model.language_model.layers.0.mlp.up_proj.weight'
    assert hf_key('autovla.vlm.visual.blocks.0.attn.qkv.weight') == \
        'model.visual.blocks.0.attn.qkv.weight'
    assert hf_key('autovla.vlm.model.language_model.norm.weight') == \
        'model.language_model.norm.weight'
    assert hf_key('autovla.vlm.lm_head.weight') == 'lm_head.weight'
    assert hf_key('autovla.action_tokenizer.x') is None


def test_conversion_writes_a_loadable_model_directory(base_and_checkpoint, tmp_path):
    base, checkpoint, model = base_and_checkpoint
    codebook = random_model_dir() / 'action_codebook.npy'
    descriptor = convert(checkpoint, base, tmp_path / 'out', codebook, 'tiny-converted',
                         shard_bytes=8 * 1024 ** 2)
    out = tmp_path / 'out'
    index = json.loads((out / 'model.safetensors.index.json').read_text())
    assert len(set(index['weight_map'].values())) > 1   # sharded
    assert descriptor.model_id == 'tiny-converted'
    runtime = PlannerRuntime(str(out), 'cpu')
    assert runtime.tokenizer.convert_tokens_to_ids('<action_0>') == FIRST_ACTION_ID
    original = model.state_dict()
    for name, tensor in runtime.model.state_dict().items():
        torch.testing.assert_close(tensor, original[name], msg=name)
    frames = np.zeros((4, 56, 56, 3), np.uint8)
    from autovla_planner.observation import CameraVideo, Observation
    observation = Observation(tuple(CameraVideo(n, frames) for n in runtime.descriptor.cameras),
                              1.0, 0.0, 'UNKNOWN')
    assert runtime.plan(observation).poses.shape == (10, 3)


def test_mismatched_checkpoint_is_refused_with_the_reason(base_and_checkpoint, tmp_path):
    base, checkpoint, _ = base_and_checkpoint
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    state['autovla.vlm.model.norm.weight'] = torch.zeros(5)
    bad = tmp_path / 'bad.ckpt'
    torch.save({'state_dict': state}, bad)
    with pytest.raises(ModelLoadError, match='wrong shapes'):
        convert(bad, base, tmp_path / 'out', random_model_dir() / 'action_codebook.npy', 'x')


def peft_wrapped(state, rank, generator):
    """The state_dict of a peft LoRA-wrapped VLM, as the official RFT saves it.

    Layout checked against peft 0.15.2 get_peft_model on a Qwen2.5-VL (transformers 4.49):
    'base_model.model.' after 'vlm.', adapted Linears as base_layer + lora_A/lora_B 'default'.
    """
    wrapped, adapters = {}, {}
    for key, tensor in state.items():
        if not key.startswith('autovla.vlm.'):
            wrapped[key] = tensor
            continue
        key = 'autovla.vlm.base_model.model.' + key[len('autovla.vlm.'):]
        module, _, parameter = key.rpartition('.')
        if '.self_attn.' in module and module.endswith(('q_proj', 'k_proj', 'v_proj', 'o_proj')):
            wrapped[f'{module}.base_layer.{parameter}'] = tensor
            if parameter == 'weight':
                down = torch.randn(rank, tensor.shape[1], generator=generator)
                up = torch.randn(tensor.shape[0], rank, generator=generator)
                wrapped[f'{module}.lora_A.default.weight'] = down
                wrapped[f'{module}.lora_B.default.weight'] = up
                adapters[module] = (down, up)
        else:
            wrapped[key] = tensor
    return wrapped, adapters


def test_lora_checkpoint_is_merged_with_the_saved_scale(base_and_checkpoint, tmp_path):
    base, checkpoint, model = base_and_checkpoint
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    wrapped, adapters = peft_wrapped(state, 4, torch.Generator().manual_seed(0))
    assert len(adapters) == 4 * model.config.text_config.num_hidden_layers
    lora_ckpt = tmp_path / 'AutoVLA_rft_lora.ckpt'
    torch.save({'state_dict': wrapped, 'hyper_parameters': {
        'config': {'model': {'lora': {'use': True, 'r': 4, 'alpha': 8, 'dropout': 0.1}}},
        'inference': False}}, lora_ckpt)
    descriptor = convert(lora_ckpt, base, tmp_path / 'out',
                         random_model_dir() / 'action_codebook.npy', 'tiny-lora')
    assert descriptor.notes['lora_merged'] == 'r=4 alpha=8 scale=2'
    assert descriptor.instruction_wording == 'navsim'
    merged = PlannerRuntime(str(tmp_path / 'out'), 'cpu').model.state_dict()
    original = model.state_dict()
    for module, (down, up) in adapters.items():
        name = 'model.language_model.' + module.split('.model.model.', 1)[1] + '.weight'
        torch.testing.assert_close(merged[name], original[name] + 2.0 * up @ down)
    untouched = [n for n in original if not n.endswith(('q_proj.weight', 'k_proj.weight',
                                                        'v_proj.weight', 'o_proj.weight'))]
    for name in untouched:
        torch.testing.assert_close(merged[name], original[name], msg=name)


def test_lora_without_hyper_parameters_asks_for_them(base_and_checkpoint, tmp_path):
    base, checkpoint, _ = base_and_checkpoint
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    wrapped, _ = peft_wrapped(state, 4, torch.Generator().manual_seed(1))
    bare = tmp_path / 'bare_lora.ckpt'
    torch.save({'state_dict': wrapped}, bare)
    with pytest.raises(ModelLoadError, match='--lora-r and --lora-alpha'):
        convert(bare, base, tmp_path / 'out', random_model_dir() / 'action_codebook.npy', 'x')


def test_plain_pickle_is_refused_with_the_real_reason(base_and_checkpoint, tmp_path):
    base, checkpoint, _ = base_and_checkpoint
    plain = tmp_path / 'plain.ckpt'
    with open(plain, 'wb') as stream:
        pickle.dump({'state_dict': {'autovla.vlm.lm_head.weight': torch.zeros(2)}}, stream)
    with pytest.raises(ModelLoadError) as refused:
        convert(plain, base, tmp_path / 'out', random_model_dir() / 'action_codebook.npy', 'x')
    message = str(refused.value)
    assert 'plain pickle' in message and 'arbitrary code' in message
    assert 'mmap' not in message and 'weights_only=False' not in message
