"""Demo agency generator: five synthetic agency databases from one ground-truth world.

See docs/demo-agencies.md for the schemas it writes; :func:`generate` is the entry point.
"""

from .generate import MILLION_ROWS_SCALE, GenerationReport, generate

__all__ = ["MILLION_ROWS_SCALE", "GenerationReport", "generate"]
