"""A small, dependency-free training script: fits y = a·x + b by gradient descent.

    python train.py --data DATA_DIR [--results RESULTS_DIR] [--epochs N] [--prepare]

With --prepare it writes a synthetic data set (data/train.csv) when there is none. It prints the
final loss as `::set-output name=loss::…`, which a bake passes to the tasks that need it.
"""

import argparse
import json
import pathlib
import random


def prepare(data: pathlib.Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    target = data / "train.csv"
    if target.exists():
        print(f"{target} exists; keeping it")
        return
    rng = random.Random(42)
    rows = [f"{x:.4f},{3 * x + 1 + rng.gauss(0, 0.1):.4f}" for x in (rng.uniform(-1, 1) for _ in range(200))]
    target.write_text("x,y\n" + "\n".join(rows) + "\n")
    print(f"wrote {len(rows)} rows to {target}")


def load(data: pathlib.Path) -> list[tuple[float, float]]:
    path = data / "train.csv"
    if not path.exists():
        prepare_rng = random.Random(0)
        return [(x, 3 * x + 1) for x in (prepare_rng.uniform(-1, 1) for _ in range(50))]
    lines = path.read_text().splitlines()[1:]
    return [tuple(map(float, line.split(","))) for line in lines if line]  # type: ignore[misc]


def train(points: list[tuple[float, float]], epochs: int) -> tuple[float, float, float]:
    a = b = 0.0
    rate = 0.1
    loss = 0.0
    for epoch in range(1, epochs + 1):
        grad_a = sum(2 * (a * x + b - y) * x for x, y in points) / len(points)
        grad_b = sum(2 * (a * x + b - y) for x, y in points) / len(points)
        a, b = a - rate * grad_a, b - rate * grad_b
        loss = sum((a * x + b - y) ** 2 for x, y in points) / len(points)
        print(f"epoch {epoch}: loss {loss:.5f}")
    return a, b, loss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--results")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--prepare", action="store_true")
    args = parser.parse_args()
    if args.prepare:
        prepare(pathlib.Path(args.data))
        return
    a, b, loss = train(load(pathlib.Path(args.data)), args.epochs)
    if args.results:
        results = pathlib.Path(args.results)
        results.mkdir(parents=True, exist_ok=True)
        (results / "model.json").write_text(json.dumps({"a": a, "b": b, "loss": loss}) + "\n")
        print(f"saved the model to {results / 'model.json'}")
    print(f"::set-output name=loss::{loss:.5f}")


if __name__ == "__main__":
    main()
