"""Fine-tuning plugins (DPO, GRPO, KTO, ORPO and SFT via TRL) behind one protocol, and a tiny offline model.

Heavy dependencies (torch, transformers, trl) are imported only by the modules that need them.
"""

from .dpo_config import DPOTrainConfig
from .grpo_config import GRPOTrainConfig
from .plugin_registry import available_plugins, get_plugin, register_plugin
from .protocol import FinetunePlugin
from .train_config import TrainConfig

__all__ = ["FinetunePlugin", "TrainConfig", "DPOTrainConfig", "GRPOTrainConfig",
           "available_plugins", "get_plugin", "register_plugin"]
