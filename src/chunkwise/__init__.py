"""chunkwise: distributed background computation with exact results and live progress."""

__version__ = "0.1.0"

__all__ = ["__version__"]
