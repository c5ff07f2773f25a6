from .basis_heads import *  # noqa: F401,F403
from .dense_heads import *  # noqa: F401,F403
from .detectors import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .mask_heads import *  # noqa: F401,F403
from .scoring import *  # noqa: F401,F403
from .seeded_init import PerComponentSeedInit, component_seed  # noqa: F401
