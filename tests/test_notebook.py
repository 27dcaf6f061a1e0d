"""Execute examples/inspect.ipynb (needs the `[notebook]` extra) and check the views it displays."""
import html
import os
import re

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from test_display import check_view  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def test_inspect_notebook_runs_and_shows_linked_views():
    notebook = nbformat.read(os.path.join(EXAMPLES, "inspect.ipynb"), as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": EXAMPLES}}).execute()
    views = [output["data"]["text/html"]
             for cell in notebook.cells if cell.cell_type == "code"
             for output in cell.get("outputs", ())
             if output.get("output_type") in ("execute_result", "display_data") and "text/html" in output.get("data", {})]
    assert len(views) == 2  # the MLP loss and the RNN loss
    parsed = [check_view(view) for view in views]
    assert parsed[0].ids != parsed[1].ids
    # the RNN's loop: its forward statements and its reversed-loop block both link to the primal
    rnn_text = html.unescape(re.sub(r"<[^>]+>", "", views[1]))
    assert "while tape:" in rnn_text and "tape.pop()" in rnn_text
    mlp_lines = parsed[0].lines
    assert len(mlp_lines["gradient"]) == 5 and mlp_lines["gradient"] <= mlp_lines["primal"]
    errors = [output for cell in notebook.cells for output in cell.get("outputs", ())
              if output.get("output_type") == "error"]
    assert not errors
