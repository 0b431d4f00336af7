"""Plan confidence from the action tokens' probabilities (and optionally sampled plans).

Inputs, over the H chosen action tokens, each from a distribution over the K action tokens
(the decoding distribution, restricted to action tokens and renormalised):
  mean_log_prob = mean_i log p_i(chosen),   min_log_prob = min_i log p_i(chosen),
  where p_i(chosen) is the probability of the chosen MOTION: the summed probability of every
  token whose 0.5 s motion ends within MOTION_TOLERANCE_M of the chosen token's. A K-disk
  codebook holds near-duplicate tokens (0.05 m apart), and a model sure of the motion spreads
  its probability over them; counting only the one token picked would read that as doubt.
  mean_entropy  = mean_i H_i  (nats),        spread = mean final-point distance (m) of S sampled
  plans from the chosen plan (optional).
Confidence in [0, 1]:
  confidence = exp((mean_log_prob + min_log_prob) / 2) * (1 - mean_entropy / ln K)
               * exp(-spread / SPREAD_SCALE_M)       (last factor only when S > 0)
The first factor is the geometric mean of the average and the weakest token probability, the
second how peaked the distributions are (0 = uniform, 1 = one-hot), the third how much sampled
plans agree. A uniform (untrained) model scores ~0, a model sure of every token ~1.
"""

from dataclasses import dataclass
import math

SPREAD_SCALE_M = 2.0
MOTION_TOLERANCE_M = 0.25   # m, mean box-corner distance after 0.5 s: the same motion


@dataclass(frozen=True)
class Uncertainty:
    """Raw figures behind a confidence value (PlanUncertainty)."""

    mean_log_prob: float
    min_log_prob: float
    mean_entropy: float
    num_samples: int = 0
    sample_spread_m: float = math.nan


def confidence(uncertainty: Uncertainty, vocabulary_size: int) -> float:
    """Map raw uncertainty figures to [0, 1] with the formula in the module docstring."""
    if vocabulary_size < 2:
        return 1.0
    token_term = math.exp(0.5 * (uncertainty.mean_log_prob + uncertainty.min_log_prob))
    peak_term = 1.0 - uncertainty.mean_entropy / math.log(vocabulary_size)
    value = token_term * peak_term
    if uncertainty.num_samples > 0 and math.isfinite(uncertainty.sample_spread_m):
        value *= math.exp(-uncertainty.sample_spread_m / SPREAD_SCALE_M)
    return min(1.0, max(0.0, value))
