"""INT8 weights for the language model (the planner's ``quantization`` parameter).

What is quantized on CPU (the vision encoder stays in float):
- every ``nn.Linear`` of the language model's decoder layers becomes an ``Int8Linear``;
- the token embedding and the LM head become ONE ``Int8RowTable`` (they are tied in
  Qwen2.5-VL 3B and in the bundled models; an untied head gets a table of its own): a lookup
  dequantizes only the rows it reads, so no float copy of the vocabulary exists.
Weights are int8 with one scale per output row. A product quantizes the activations to int8
with one scale PER TOKEN and multiplies int8 x int8 into int32 (``torch._int_mm``, the kernel
torchao's dynamic int8 path uses). Per token matters: one scale for the whole prompt (torch.ao
dynamic quantization) lets a single large activation (vision tokens have them) crush every
other token to a few levels; on the bundled model that moved L2@3s by +10.1 %, per token +2.2 %.
The runtime keeps its float copy of the action-token rows of the head (2048 rows, taken before
quantization), so action logits are exact and only the hidden states carry the INT8 error.

CUDA (for the car; NOT tested here, this machine has no GPU): torchao's int8 weight-only
quantization of every linear layer of the language model, when torchao is installed.
"""

import io

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
        """``hidden @ table.T``: int8 activations (one scale per token) times int8 rows."""
        flat = hidden.reshape(-1, hidden.shape[-1]).float()
        step = flat.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
        products = torch._int_mm(torch.round(flat / step).to(torch.int8), self.qweight.t())
        return (products * (step * self.scale)).reshape(*hidden.shape[:-1], -1)


class Int8Linear(torch.nn.Module):
    """A linear layer (or LM head) on an Int8RowTable: float bias, float in and out.

    The table may be shared: the tied LM head computes its logits on the embedding's table.
    """

    def __init__(self, table: Int8RowTable, bias=None):
        super().__init__()
        self.table = table
        self.register_buffer('bias', bias)

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear) -> 'Int8Linear':
        """Quantize ``linear``: a table of its own, its bias kept in float32."""
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        return cls(Int8RowTable(linear.weight), bias)

    def forward(self, hidden):
        """Apply the layer with int8 weights and int8 (per-token) activations."""
        output = self.table.matmul_transposed(hidden)
        return output if self.bias is None else output + self.bias


def quantize_linears(module: torch.nn.Module) -> torch.nn.Module:
    """Replace every ``nn.Linear`` inside ``module`` by an Int8Linear, in place; return it."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(parent, name, Int8Linear.from_linear(child))
    return module


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
    model.lm_head = Int8Linear(table if tied else Int8RowTable(model.lm_head.weight))
    quantize_linears(language_model.layers)
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
