"""pluralstats: statistics and fine-tuning plugins for pluralistic LLM alignment research."""

from importlib import metadata

try:
    __version__ = metadata.version("pluralstats")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
