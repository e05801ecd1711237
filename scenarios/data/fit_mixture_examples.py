"""Write the phase-type and batch-size inputs of ``qsim fit`` (docs/fitting.md, "Examples").

    .venv/bin/python scenarios/data/fit_mixture_examples.py

- ``service-times-mixed.csv``: 2,000 service times in milliseconds from a two-branch
  hyper-Erlang: 70% a cache hit, Erlang of 4 stages with mean 40 ms, and 30% a miss, Erlang of
  3 stages with mean 250 ms (overall mean 103 ms);
- ``batch-sizes.csv``: 2,000 batch sizes, 1 + Poisson with mean 2 (so mean 3, never 0).

Each file has its own seeded Generator, so neither depends on the other (nor on
``fit_examples.py``).
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
COUNT = 2000
BRANCHES = ((0.7, 4, 40.0), (0.3, 3, 250.0))  # probability, stages, mean in ms
BATCH_POISSON_MEAN = 2.0


def service_times(rng: np.random.Generator) -> np.ndarray:
    """``COUNT`` draws of the hyper-Erlang of :data:`BRANCHES`, in milliseconds."""
    probs = [p for p, _, _ in BRANCHES]
    branch = rng.choice(len(BRANCHES), size=COUNT, p=probs)
    stages = np.array([k for _, k, _ in BRANCHES])[branch]
    means = np.array([m for _, _, m in BRANCHES])[branch]
    return rng.gamma(stages, means / stages)


def main() -> None:
    """Draw both samples and write them with a header line."""
    durations = service_times(np.random.default_rng(11))
    (HERE / "service-times-mixed.csv").write_text(
        "milliseconds\n" + "".join(f"{d:.3f}\n" for d in durations), encoding="utf-8"
    )
    sizes = 1 + np.random.default_rng(12).poisson(BATCH_POISSON_MEAN, COUNT)
    (HERE / "batch-sizes.csv").write_text(
        "batch_size\n" + "".join(f"{s}\n" for s in sizes), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
