"""The GlobMed Space's entry point (Hugging Face Spaces runs `python app.py`; locally: `globmed space`).

This folder (globmed/space/repo/) is what `globmed-push space` uploads as the Space's repository.
Results: the GLOBMED_RESULTS variable (comma-separated Hub dataset ids or folders), else the
synthetic sample shipped inside globmed (globmed/space/sample_results). Demo: GLOBMED_DEMO_URL /
GLOBMED_DEMO_MODEL / GLOBMED_DEMO_BACKEND variables and a GLOBMED_DEMO_API_KEY or HF_TOKEN secret (see
globmed/space/chat.py). The app itself lives in globmed.space.app.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if (HERE / "vendor" / "globmed").is_dir():  # `globmed-push space --vendor-globmed`: the uploader's own globmed
    sys.path.insert(0, str(HERE / "vendor"))

from globmed.space import results_refs  # noqa: E402
from globmed.space.app import build_demo, launch  # noqa: E402

demo = build_demo(results_refs())

if __name__ == "__main__":
    launch(demo)
