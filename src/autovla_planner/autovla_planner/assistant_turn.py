r"""The slow-thinking assistant turn: how generated reasoning is closed, and its token ids.

One place for the layout both sides must agree on: the runtime generates reasoning after
"<think>\n" + the slow sentence until the text holds "</think>", then prefills what is
missing of "</think>\n<answer>\nThe final output action is: " and decodes the action tokens;
supervised training uses exactly those tokens as the target of a frame trained with reasoning.
"""

from typing import List, Sequence, Tuple

THINK_CLOSE = '</think>'


def close_reasoning(template, generated_text: str) -> Tuple[str, str]:
    """Split generated text into (reasoning, text to prefill before the action tokens).

    The model may already have written part of the closing after "</think>"; only the rest is
    prefilled. Without "</think>" (token limit) the whole closing is prefilled.
    """
    closing = template.think_end + template.answer_lead_in
    if THINK_CLOSE not in generated_text:
        return generated_text, ('' if generated_text.endswith('\n') else '\n') + closing
    reasoning, tail = generated_text.split(THINK_CLOSE, 1)
    expected = closing[len(THINK_CLOSE):]
    return reasoning, expected[len(tail):] if expected.startswith(tail) else expected


def slow_answer_ids(runtime, reasoning: str, indices: Sequence[int]) -> List[int]:
    """Token ids of a whole slow-thinking assistant turn with ``reasoning`` and actions.

    The slow sentence the decoder prefills, the reasoning and "</think>" as the model must
    generate them, the prefilled answer lead-in, the action tokens, the answer's closing and
    <|im_end|>: the target of a frame trained with reasoning.
    """
    def encode(text: str) -> List[int]:
        return list(runtime.tokenizer.encode(text, add_special_tokens=False))

    generated = encode(reasoning.strip() + '\n' + THINK_CLOSE)
    _, prefill = close_reasoning(runtime.template, runtime.tokenizer.decode(generated))
    first = runtime.descriptor.first_action_id
    return (list(runtime.slow_ids) + generated + encode(prefill)
            + [first + int(i) for i in indices] + encode(runtime.template.answer_end)
            + [runtime.eos_id])
