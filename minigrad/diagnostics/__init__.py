"""Study tools: gradient and activation statistics, graph export, lr finder."""
from ..gradcheck import GradcheckError, gradcheck

__all__ = ["GradcheckError", "gradcheck"]
