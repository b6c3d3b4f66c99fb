"""Audio front end, audio task loaders, linear-probe and fine-tuning evaluation (``[train]``)."""
