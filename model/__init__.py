"""multivector: the model (Mesa agents, pure rules, metrics, scenario types).

Nothing here imports plotting, Dask or the command line; ``experiments`` builds on this package.
"""

from model.model import MultivectorModel
from model.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["MultivectorModel", "Scenario", "ScenarioError", "load_scenario"]
__version__ = "0.1.0"
