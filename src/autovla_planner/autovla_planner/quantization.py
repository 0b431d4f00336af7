"""INT8 weights for the language model (the planner's ``quantization`` parameter).

What is quantized (the vision encoder stays in float):
- every ``nn.Linear`` of the language model's decoder layers: int8 weights with one scale per
  output channel. On CPU this is torch.ao dynamic quantization (fbgemm / onednn kernels: the
  activations are quantized per call, the stored model is int8);
- the token embedding and the LM head as ONE int8 table with a scale per row (they are tied in
  Qwen2.5-VL 3B and in the bundled models; an untied head gets a table of its own): a lookup
  dequantizes only the rows it reads, the head multiplies with ``torch._weight_int8pack_mm``
  (the weight-only int8 kernel torchao uses on CPU), so no float copy of the vocabulary exists.
The runtime keeps its float copy of the action-token rows of the head (2048 rows, taken before
quantization), so action logits are exact and only the hidden states carry the INT8 error.

CUDA (for the car; NOT tested here, this machine has no GPU): torchao's int8 weight-only
quantization of every linear layer of the language model, when torchao is installed.
"""

import io
import warnings

import torch

QUANTIZATION_MODES = ('none', 'int8')


class QuantizationError(ValueError):
    """The requested quantization cannot run with this device / dtype / installation."""


class Int8RowTable(torch.nn.Module):
    """A (rows, width) float matrix stored as int8 with one float32 scale per row."""

    def __init__(self, weight):
        super().__init__()
        weight = weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        self.register_buffer('qweight', torch.round(weight / scale[:, None]).clamp(
            -127, 127).to(torch.int8))
        self.register_buffer('scale', scale)

    @property
    def shape(self):
        """Shape of the float matrix this table stands for."""
        return self.qweight.shape

    def forward(self, ids):
        """Embedding lookup: dequantize only the rows of ``ids``."""
        return self.qweight[ids].float() * self.scale[ids].unsqueeze(-1)

    def matmul_transposed(self, hidden):
        """``hidden @ table.T`` with the int8 weights (weight-only int8 kernel)."""
        flat = hidden.reshape(-1, hidden.shape[-1]).float().contiguous()
        logits = torch._weight_int8pack_mm(flat, self.qweight, self.scale)
        return logits.reshape(*hidden.shape[:-1], logits.shape[-1])


class Int8Head(torch.nn.Module):
    """LM head computing logits from an Int8RowTable (shared with the embedding when tied)."""

    def __init__(self, table: Int8RowTable):
        super().__init__()
        self.table = table

    def forward(self, hidden):
        """Logits over the whole vocabulary."""
        return self.table.matmul_transposed(hidden)


def quantize_model(model, mode: str, device: str):
    """Quantize ``model`` in place (``mode`` none/int8); return it. Raise QuantizationError."""
    if mode not in QUANTIZATION_MODES:
        raise QuantizationError(f'quantization {mode!r} is not one of {QUANTIZATION_MODES}')
    if mode == 'none':
        return model
    if device.startswith('cuda'):
        return _quantize_cuda(model)
    if model.dtype != torch.float32:
        raise QuantizationError(f'int8 on CPU needs float32 activations (dtype float32 or '
                                f'auto), the model is {model.dtype}')
    language_model = model.model.language_model
    embedding = model.get_input_embeddings()
    tied = model.lm_head.weight is embedding.weight
    table = Int8RowTable(embedding.weight)
    language_model.embed_tokens = table
    model.lm_head = Int8Head(table if tied else Int8RowTable(model.lm_head.weight))
    # torch.ao warns that it moves to torchao; it still ships with torch 2.13 and its fbgemm
    # kernels are the fast CPU path (torchao is not a dependency of this project).
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', (DeprecationWarning, UserWarning))
        language_model.layers = torch.ao.quantization.quantize_dynamic(
            language_model.layers,
            {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
            dtype=torch.qint8)
    # Transformers must not re-tie (or re-initialise) the weights we replaced.
    model.config.tie_word_embeddings = False
    model.config.get_text_config().tie_word_embeddings = False
    return model


def _quantize_cuda(model):
    """Int8 weight-only linear layers of the language model on CUDA via torchao (untested)."""
    try:
        from torchao.quantization import Int8WeightOnlyConfig, quantize_
    except ImportError:
        raise QuantizationError('int8 on CUDA needs torchao (pip install torchao matching '
                                'your torch); it is not installed') from None
    quantize_(model.model.language_model, Int8WeightOnlyConfig())
    quantize_(model.lm_head, Int8WeightOnlyConfig())
    return model


def state_dict_bytes(module) -> int:
    """Bytes of ``module``'s serialized state dict (what a weight file of it would hold)."""
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.tell()
