# Copyright (c) mmb2inst contributors. All rights reserved.
"""mmb2inst's exceptions. Models, hooks and tools raise them; the tools print
them as one message (:func:`mmb2inst.utils.run_checks.friendly_errors`)."""


class UserInputError(Exception):
    """Bad input from the user; the message says what to do."""


class ConfigError(UserInputError, ValueError):
    """A config value a model cannot be built with.

    Raised by mmb2inst's modules when they are built; the message names the
    full config key (e.g. ``model.mask_head.boundary.supervision``) and the
    values it may take. A ``ValueError`` for Python callers.
    """


class TrainingDivergedError(RuntimeError):
    """A loss became non-finite or exploded during training.

    Raised by :class:`mmb2inst.engine.LossGuardHook` before the checkpoint
    of the failing iteration is written; the message names the loss, the
    iteration and the last checkpoint.
    """
