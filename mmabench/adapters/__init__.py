"""Model adapters: one small module each, registered by name and imported only when used."""

from mmabench.adapters.base import Adapter, Capabilities, PermanentError, Request, Response, TransientError
from mmabench.registry import Registry

adapters: Registry = Registry("model adapter")
adapters.register("random", "mmabench.adapters.baselines:RandomAdapter")
adapters.register("majority", "mmabench.adapters.baselines:MajorityAdapter")
adapters.register("openai-compat", "mmabench.adapters.openai_compat:OpenAICompatAdapter", extra="eval")
adapters.register("text-only", "mmabench.adapters.openai_compat:TextOnlyAdapter", extra="eval")
adapters.register("experts", "mmabench.eval.experts:ExpertsAdapter", extra="tag")
adapters.register("hf", "mmabench.adapters.hf:HFOmniAdapter", extra="hf-model")
adapters.register("gemini", "mmabench.adapters.gemini:GeminiAdapter", extra="eval")

__all__ = ["Adapter", "Capabilities", "PermanentError", "Request", "Response", "TransientError", "adapters"]
