"""Merge peft LoRA adapters found in a checkpoint's state_dict into plain weights.

The official RFT stage (tools/run_rft.py) wraps the VLM with peft ``get_peft_model`` (LoRA r=8,
alpha=8 on q/k/v/o_proj), so a checkpoint saved from it stores, under an extra
``base_model.model.`` prefix, every adapted Linear ``X`` as ``X.base_layer.weight`` (+ bias),
``X.lora_A.<adapter>.weight`` (r x in) and ``X.lora_B.<adapter>.weight`` (out x r). Merging
writes ``X.weight = W + scale * B @ A`` with scale = alpha / r (alpha / sqrt(r) for rsLoRA),
what peft's ``merge_and_unload`` computes, and drops the wrapping. The hyper-parameters come
from the Lightning checkpoint (``hyper_parameters``), as the training config saved them.
"""

from dataclasses import dataclass
import math
from typing import Any, Dict, Optional

PEFT_PREFIX = 'base_model.model.'
_A, _B, _BASE = '.lora_A.', '.lora_B.', '.base_layer.'
_UNSUPPORTED = ('lora_embedding_', 'lora_magnitude_vector')   # LoRA on embeddings, DoRA


@dataclass(frozen=True)
class LoraSettings:
    """LoRA hyper-parameters that decide the merge scale."""

    alpha: float
    r: int
    use_rslora: bool = False

    @property
    def scale(self) -> float:
        """Factor of B @ A in the merged weight."""
        return self.alpha / (math.sqrt(self.r) if self.use_rslora else self.r)


def has_lora(state: Dict[str, Any]) -> bool:
    """Tell whether a state_dict holds LoRA adapters."""
    return any(_A in key or _B in key or any(m in key for m in _UNSUPPORTED) for key in state)


def find_lora_settings(hyper_parameters: Any) -> Optional[LoraSettings]:
    """Find r and alpha (``alpha`` or peft's ``lora_alpha``) in saved hyper-parameters.

    Looks through nested dicts (AutoVLA saves ``{'config': {'model': {'lora': {...}}}}``);
    None when no dict names both.
    """
    if not isinstance(hyper_parameters, dict):
        return None
    alpha = hyper_parameters.get('lora_alpha', hyper_parameters.get('alpha'))
    rank = hyper_parameters.get('r')
    if isinstance(rank, int) and isinstance(alpha, (int, float)) and rank > 0:
        return LoraSettings(float(alpha), rank, bool(hyper_parameters.get('use_rslora', False)))
    for value in hyper_parameters.values():
        found = find_lora_settings(value)
        if found is not None:
            return found
    return None


def merge_lora(state: Dict[str, Any], settings: LoraSettings) -> Dict[str, Any]:
    """Return ``state`` with every adapter merged and peft's key wrapping removed.

    ValueError names the first inconsistency (missing half of an adapter, several adapters,
    a rank other than ``settings.r``, shapes that do not multiply, LoRA on embeddings / DoRA).
    """
    plain: Dict[str, Any] = {}
    adapters: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for key, tensor in state.items():
        if any(marker in key for marker in _UNSUPPORTED):
            raise ValueError(f'{key}: only LoRA on Linear layers (lora_A / lora_B) can be merged')
        half = _A if _A in key else _B if _B in key else None
        if half is None:
            plain[key.replace(_BASE, '.')] = tensor
            continue
        module, rest = key.split(half, 1)
        adapter, _, parameter = rest.partition('.')
        if parameter != 'weight':
            raise ValueError(f'{key}: unexpected LoRA parameter {parameter!r}')
        adapters.setdefault(module, {}).setdefault(adapter, {})[half] = tensor
    for module, by_adapter in adapters.items():
        if len(by_adapter) != 1:
            raise ValueError(f'{module}: {len(by_adapter)} adapters ({", ".join(by_adapter)}); '
                             'merge one of them first')
        (adapter, pair), = by_adapter.items()
        down, up, weight = pair.get(_A), pair.get(_B), plain.get(module + '.weight')
        if down is None or up is None or weight is None:
            raise ValueError(f'{module}: adapter {adapter!r} lacks lora_A, lora_B or its '
                             'base_layer weight')
        if down.shape[0] != settings.r or tuple(up.shape) != (weight.shape[0], settings.r) or \
                down.shape[1] != weight.shape[1]:
            raise ValueError(f'{module}: lora_A {tuple(down.shape)}, lora_B {tuple(up.shape)} '
                             f'do not fit the weight {tuple(weight.shape)} at rank {settings.r}')
        delta = (up.float() @ down.float()) * settings.scale
        plain[module + '.weight'] = (weight.float() + delta).to(weight.dtype)
    return {key.replace(PEFT_PREFIX, '', 1): tensor for key, tensor in plain.items()}
