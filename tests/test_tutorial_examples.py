"""The generated code docs/tutorial.md's second part quotes from the training examples is what
gradc generates for them now (each quoted line, in order, in the example's gradient source)."""
import sys
from pathlib import Path

import numpy as np
import pytest

from gradcheck import clean_build_only, default_build_only

# (the code quoted is what the default build generates: the stress and checker runs print other code)
pytestmark = [default_build_only, clean_build_only]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block of a Markdown text."""
    blocks, language, body = [], None, []
    for line in text.splitlines():
        if line.startswith("```"):
            if language is None:
                language, body = line[3:].strip(), []
            else:
                blocks.append((language, "\n".join(body)))
                language = None
        elif language is not None:
            body.append(line)
    return blocks


def quoted(containing: str) -> list[str]:
    """The lines of the tutorial's plain ``` block (no language: not run) that contains `containing`."""
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    blocks = [body for language, body in fenced_blocks(text) if language == "" and containing in body]
    assert len(blocks) == 1, containing
    return [line.strip() for line in blocks[0].splitlines() if line.strip()]


def assert_in_order(lines: list[str], source: str) -> None:
    generated = [line.strip() for line in source.splitlines()]
    position = 0
    for line in lines:
        assert line in generated[position:], f"not generated (in this order): {line}\n{source}"
        position = generated.index(line, position) + 1


def test_digits_backward_is_current():
    import digits
    rng = np.random.default_rng(0)
    params = digits.init(rng)
    x, y = rng.standard_normal((32, 64)), np.eye(10)[rng.integers(0, 10, 32)]
    assert_in_order(quoted("dshifted ="), digits.dloss.source_for(params, x, y, 1e-3))


def test_batchnorm_backward_and_lines_are_current():
    import batchnorm
    source = (ROOT / "examples" / "batchnorm.py").read_text(encoding="utf-8")
    for line in quoted("z_hat = (z - mean) / np.sqrt(var + EPS)\nh ="):
        assert line in source
    rng = np.random.default_rng(0)
    params = batchnorm.init(rng) if hasattr(batchnorm, "init") else None
    assert params is not None
    x, y = rng.standard_normal((32, 64)), np.eye(10)[rng.integers(0, 10, 32)]
    assert_in_order(quoted("ddiff_sum ="), batchnorm.dloss.source_for(params, x, y, 1e-3))


def test_char_rnn_backward_is_current():
    import char_rnn
    rng = np.random.default_rng(0)
    vocab, hidden, steps, batch = 7, 5, 4, 3
    params = char_rnn.init(rng, vocab, hidden)
    eye = np.eye(vocab)
    xs, ys = eye[rng.integers(0, vocab, (steps, batch))], eye[rng.integers(0, vocab, (steps, batch))]
    h = np.zeros((batch, hidden))
    import gradc
    assert_in_order(quoted("while tape:"), gradc.grad(char_rnn.loss).source_for(params, h, xs, ys))


def test_mixed_precision_seed_is_current():
    import mixed_precision
    rng = np.random.default_rng(0)
    params = {name: p.astype(np.float16) for name, p in mixed_precision.init(rng).items()}
    x = rng.standard_normal((16, 64)).astype(np.float16)
    y = np.eye(10, dtype=np.float16)[rng.integers(0, 10, 16)]
    assert_in_order(quoted("np.float16(1.0) * scale"), mixed_precision.dloss.source_for(params, x, y, 1024.0))
