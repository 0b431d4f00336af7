"""Which reasoning mode a plan uses, and why: forced mode, model choice, latency budget.

The model chooses by its first sentence (fast: "straightforward", slow: "complex"): slow when
the slow sentence's share of the two sentences' probability is above ``slow_threshold`` (0.5:
the likelier one; lower thinks more often, for a model whose thinking pays off). In auto
mode a slow choice is kept only if the estimated slow-thinking time fits the latency budget:
  estimate = elapsed so far + expected reasoning tokens * seconds per reasoning token
             + horizon * seconds per action token
Expected reasoning tokens and per-token times are exponential moving averages of what was
measured; before the first measurement the reasoning length is the configured prior and a
reasoning token is assumed to cost as much as an action token (optimistic, so the first slow
plan gets measured). A budget of 0 means no limit.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

FAST, SLOW = 'fast', 'slow'
EMA_WEIGHT = 0.3   # weight of the newest measurement


def _ema(previous: Optional[float], value: float) -> float:
    return value if previous is None else (1.0 - EMA_WEIGHT) * previous + EMA_WEIGHT * value


@dataclass
class ReasoningPolicy:
    """Forced mode + latency budget, with measured decoding costs."""

    forced_mode: str = 'auto'               # auto / fast / slow
    latency_budget_s: float = 0.0           # 0 = unlimited
    expected_reasoning_tokens: float = 300.0
    slow_threshold: float = 0.5             # slow when p_slow / (p_fast + p_slow) is above
    reasoning_token_s: Optional[float] = None
    action_token_s: Optional[float] = None

    def __post_init__(self):
        if self.forced_mode not in ('auto', FAST, SLOW):
            raise ValueError(f'forced mode must be auto, fast or slow, got {self.forced_mode!r}')
        if not 0.0 <= self.slow_threshold < 1.0:
            raise ValueError(f'slow threshold must be in [0, 1), got {self.slow_threshold!r}')

    def model_choice(self, p_fast: float, p_slow: float) -> Tuple[str, str]:
        """Return the model's choice from its two first-sentence probabilities, and a note."""
        share = p_slow / (p_fast + p_slow) if p_fast + p_slow > 0.0 else 0.0
        note = f'p_fast={p_fast:.3g}, p_slow={p_slow:.3g}'
        if self.slow_threshold != 0.5:
            note += f', slow share {share:.3g} vs threshold {self.slow_threshold:g}'
        return (SLOW if share > self.slow_threshold else FAST), note

    def forced(self) -> Optional[Tuple[str, str]]:
        """(mode, reason) when the parameter forces a mode, else None."""
        if self.forced_mode == 'auto':
            return None
        return self.forced_mode, f'{self.forced_mode} thinking forced by parameter'

    def estimate_slow_s(self, elapsed_s: float, horizon: int) -> Optional[float]:
        """Estimated total seconds of a slow plan; None until any decode step was measured."""
        per_action = self.action_token_s
        per_reasoning = self.reasoning_token_s if self.reasoning_token_s is not None \
            else per_action
        if per_action is None or per_reasoning is None:
            return None
        return elapsed_s + self.expected_reasoning_tokens * per_reasoning + horizon * per_action

    def decide(self, model_choice: str, choice_note: str, elapsed_s: float,
               horizon: int) -> Tuple[str, str]:
        """Return the final (mode, reason) in auto mode given the model's choice."""
        if model_choice == FAST or self.latency_budget_s <= 0.0:
            return model_choice, f'model chose {model_choice} thinking ({choice_note})'
        estimate = self.estimate_slow_s(elapsed_s, horizon)
        if estimate is not None and estimate > self.latency_budget_s:
            return FAST, (f'model chose slow thinking ({choice_note}) but latency budget '
                          f'forced fast: estimated {estimate:.2f} s > budget '
                          f'{self.latency_budget_s:.2f} s')
        estimate_text = 'not measured yet' if estimate is None else f'{estimate:.2f} s'
        return SLOW, (f'model chose slow thinking ({choice_note}); estimated {estimate_text} '
                      f'within budget {self.latency_budget_s:.2f} s')

    def reasoning_token_limit(self, elapsed_s: float, horizon: int, max_tokens: int) -> int:
        """Most reasoning tokens that still fit the budget (``max_tokens`` if unlimited)."""
        left = self.reasoning_time_left(elapsed_s, horizon)
        if left is None or self.action_token_s is None:
            return max_tokens
        per_reasoning = self.reasoning_token_s or self.action_token_s
        return min(max_tokens, int(left / per_reasoning + 1e-9))

    def reasoning_time_left(self, elapsed_s: float, horizon: int) -> Optional[float]:
        """Seconds reasoning may still run within the budget (None if unlimited).

        Bounds a slow plan by time as well as by tokens: before any reasoning token was
        measured the token limit is only the configured maximum, and a node's first slow plan
        would otherwise run far past its budget.
        """
        if self.latency_budget_s <= 0.0:
            return None
        actions_s = horizon * self.action_token_s if self.action_token_s is not None else 0.0
        return max(0.0, self.latency_budget_s - elapsed_s - actions_s)

    def record(self, action_token_s: Optional[float], reasoning_token_s: Optional[float],
               reasoning_tokens: Optional[int]) -> None:
        """Feed the measured costs of one plan into the moving averages."""
        if action_token_s is not None:
            self.action_token_s = _ema(self.action_token_s, action_token_s)
        if reasoning_token_s is not None:
            self.reasoning_token_s = _ema(self.reasoning_token_s, reasoning_token_s)
        if reasoning_tokens is not None:
            self.expected_reasoning_tokens = _ema(self.expected_reasoning_tokens,
                                                  float(reasoning_tokens))
