"""Model taggers: what is visible (frames) and audible (soundtrack) in a media file, as per-class scores.

Registered by name, imported only when used. Scores are stored in the `tags` table keyed by
(content sha256, tagger, model id, weights sha256, tagger version), so nothing is computed twice.
"""

from mmabench.registry import Registry

taggers: Registry = Registry("tagger")
taggers.register("yamnet", "mmabench.taggers.yamnet:YamnetTagger", extra="tag")
taggers.register("imagenet", "mmabench.taggers.imagenet:ImagenetTagger", extra="tag")
taggers.register("clip", "mmabench.taggers.clip:ClipTagger", extra="clip")
taggers.register("hf-audio", "mmabench.taggers.hf_audio:HFAudioTagger", extra="hf-model")
taggers.register("silero", "mmabench.taggers.silero:SileroTagger", extra="speech")
taggers.register("pyannote", "mmabench.taggers.pyannote_vad:PyannoteTagger", extra="speech")
