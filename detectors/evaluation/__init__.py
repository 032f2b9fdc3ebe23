"""The parts of ``telltale eval`` (the command itself is :mod:`detectors.evaluate`).

* :mod:`.metrics`   AUC, EER, TPR at a fixed false-positive rate, with n.
* :mod:`.manifests` the labelled manifests: rows, their grouped fold, their family.
* :mod:`.cache`     per-file check outputs on disk, keyed by file content and engine code.
* :mod:`.cv`        grouped cross-fitting: every fitted thing is fitted without the fold it scores.
"""
