"""The contracts every stage shares: the folders globmed writes and reads, each known in one module.

    datafolder.py     DATA     a built GlobMed folder (or its Hub copy): configs, card, manifest; reading items
    resultsfolder.py  OUT      `globmed bench run`'s results: manifest, results/details configs, the request
                               store, the items cache, the report
    modelfolder.py    OUTPUT   `globmed train sft`'s model: weights, card, manifest, checkpoints
    manifest.py                globmed.json, the manifest of all three (its kind says which)

Each folder module's docstring draws its tree. A module that needs a path asks the folder for it;
none spells a layout by itself (benchmarks/import_graph.py lists who spells one).
"""

from __future__ import annotations

from pathlib import Path

# In every folder globmed writes (results, training output, distillation and translation outputs): what is
# kept between runs and never published (`globmed-push` skips it), and the crash-safe request store in it.
CACHE = ".cache"
REQUEST_STORE = Path(CACHE) / "requests.sqlite"
