"""MAE pre-training of a timm ViT encoder from synthetic shards (needs the ``[train]`` extra)."""
