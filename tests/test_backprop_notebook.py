"""Execute examples/backprop.ipynb (needs the `notebook` and `examples` extras): it trains, prints
what it claims, and displays three gradients in the notebook view."""
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def test_backprop_notebook_runs_trains_and_shows_its_gradients():
    notebook = nbformat.read(os.path.join(EXAMPLES, "backprop.ipynb"), as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": EXAMPLES}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", ())]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    views = [o["data"]["text/html"] for o in outputs
             if o.get("output_type") in ("execute_result", "display_data") and "text/html" in o.get("data", {})]
    assert len(views) == 3  # the digits loss, the RNN (a reversed loop), batch normalisation
    assert "while tape:" in views[1]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    accuracy = float(text.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.9
    first, last = [float(line.split("loss ")[1].split()[0]) for line in text.splitlines()
                   if line.startswith("epoch")][::4]
    assert last < first
    ratios = {line.split(":")[0].strip(): float(line.split()[-1]) for line in text.splitlines()
              if "first/last layer gradient norm" in line}
    assert ratios["sigmoid"] < 1e-6 < 1e-2 < ratios["ReLU + He"]  # (see examples/vanishing.py)
    line = next(line for line in text.splitlines() if "without loss scaling" in line)
    unscaled, scaled = int(line.split(": ")[1].split()[0]), int(line.split("float16 without loss scaling, ")[1].split()[0])
    assert scaled < unscaled
