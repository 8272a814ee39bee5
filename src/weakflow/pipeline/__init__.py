"""Pipeline: projects (``weakflow.toml``) and ``weakflow run``, composing the stages."""

from weakflow.pipeline._config import CONFIG_FILE, ProjectConfig, load_config, parse_config
from weakflow.pipeline._lfmodule import LFModule, load_lf_module, load_lf_source
from weakflow.pipeline._project import EXAMPLES, Project, init_project
from weakflow.pipeline._run import (
    RunResult,
    StepRecord,
    end_model_inputs,
    model_inputs,
    run_project,
)

__all__ = [
    "CONFIG_FILE",
    "EXAMPLES",
    "LFModule",
    "Project",
    "ProjectConfig",
    "RunResult",
    "StepRecord",
    "end_model_inputs",
    "init_project",
    "load_config",
    "load_lf_module",
    "load_lf_source",
    "model_inputs",
    "parse_config",
    "run_project",
]
