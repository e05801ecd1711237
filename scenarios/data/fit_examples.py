"""Write the example inputs of ``qsim fit`` (README, "Fitting scenarios from measurements").

    .venv/bin/python scenarios/data/fit_examples.py

- ``service-times.csv``: 1,000 gamma service times, mean 180 ms, cv 0.6, in seconds;
- ``publish-times.csv``: 6 minutes of Poisson publishes at 5/s, then 20/s from 2m, then 10/s
  from 4m, in seconds from the start.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 7
MEAN, CV, COUNT = 0.180, 0.6, 1000
PIECES = ((0.0, 120.0, 5.0), (120.0, 240.0, 20.0), (240.0, 360.0, 10.0))  # start, end, rate/s


def main() -> None:
    """Draw both samples from one seeded Generator and write them with a header line."""
    rng = np.random.default_rng(SEED)
    shape = 1 / CV**2
    durations = rng.gamma(shape, MEAN / shape, COUNT)
    (HERE / "service-times.csv").write_text(
        "seconds\n" + "".join(f"{d:.6f}\n" for d in durations), encoding="utf-8"
    )
    times = np.concatenate(
        [np.sort(rng.uniform(a, b, rng.poisson(rate * (b - a)))) for a, b, rate in PIECES]
    )
    (HERE / "publish-times.csv").write_text(
        "published_at\n" + "".join(f"{t:.6f}\n" for t in times), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
