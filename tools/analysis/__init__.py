"""Image statistics against real audio (``python -m tools.analysis.stats``), properties vs
accuracy (``python -m tools.analysis.correlate``), log-mel images of real audio, and the
diversity of the shader kinds."""
