"""Plan stage: ``init`` scaffolds a project; ``plan`` derives the artefacts from the spec."""

from datakit.plan.init import TEMPLATES, InitResult, init_project
from datakit.plan.run import PlanResult, plan

__all__ = ["TEMPLATES", "InitResult", "PlanResult", "init_project", "plan"]
