from .hooks import *  # noqa: F401,F403
from .runner import B2InstRunner  # noqa: F401
