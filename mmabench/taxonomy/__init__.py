"""The AudioSet ontology and the stage-1 curation rules (floor 2: data, no stage logic).

Below the stages because three of them need it: sources label clips with it, taggers map model classes
onto it, and synthesis keeps donors and wrong captions out of a clip's own lineage.
"""

from mmabench.taxonomy.curation import Curation
from mmabench.taxonomy.ontology import Ontology, default_ontology

__all__ = ["Curation", "Ontology", "default_ontology"]
