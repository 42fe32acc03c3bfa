"""The built-in ``ray`` runner: ``mediakit transcribe ... --runner ray`` runs the batch on a Ray cluster.

The driver lists the inputs, applies ``--skip_existing`` and sends paths (never bytes) to a pool of
worker actors; each actor loads the model once and demuxes, featurizes, decodes and writes every
output itself, atomically, with the names the local runner gives them. Ray is imported only when
the runner runs, so this package imports without it (``pip install 'mediakit[ray]'`` installs it).
"""

from .plugin import ray_missing

__all__ = ["ray_missing"]
