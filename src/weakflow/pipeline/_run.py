"""``weakflow run``: raw data to an evaluated, calibrated end model and a report.

load -> data checks -> apply LFs -> LF summary -> label model -> probabilistic labels ->
end model -> calibration -> evaluation -> report. The stages are the stage packages' own APIs;
this module only wires them, times them, turns failures into a :class:`PipelineError` naming the
step and the fix, and reuses the outputs of steps whose inputs did not change (the step cache
in ``.weakflow/``, keyed by the content hashes of everything a step reads).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from weakflow import __version__
from weakflow._label_matrix import LabelMatrix
from weakflow.data import (
    DataCheckOptions,
    Dataset,
    content_hash,
    encode_labels,
    read_table,
    redact_pii,
    run_data_checks,
)
from weakflow.errors import PipelineError, WeakflowError
from weakflow.evaluate import (
    SlicingFunction,
    apply_slicing_functions,
    auto_slices,
    calibration_summary,
    choose_calibration,
    classification_metrics,
    evaluate_robustness,
    membership_inference,
    slice_metrics,
    write_report,
)
from weakflow.labeling import apply_lfs, compare_lf_votes, lf_summary, module_diff
from weakflow.labelmodel import LabelModel
from weakflow.pipeline._config import ProjectConfig
from weakflow.pipeline._lfmodule import LFModule, load_lf_module, load_lf_source, load_objects
from weakflow.pipeline._project import Project
from weakflow.pipeline._provenance import git_commit, package_versions, render_datasheet
from weakflow.registry import (
    PackagedModel,
    build_model_card,
    current_actor,
    evaluate_gates,
    metrics_from_report,
    open_registry,
    render_model_card,
    store_url,
)
from weakflow.store import ArtifactStore, RunStore, StepCache, step_key
from weakflow.train import build_end_model, end_model_proba, fit_noise_aware

__all__ = ["RunResult", "StepRecord", "end_model_inputs", "model_inputs", "run_project"]

T = TypeVar("T")
ROLES = ("train", "dev", "test")


@dataclass(frozen=True)
class StepRecord:
    """How one step went: time, whether its outputs came from the cache, a one-line summary."""

    name: str
    seconds: float
    cached: bool
    detail: str


@dataclass
class RunResult:
    """What ``weakflow run`` produced."""

    run_id: str
    run_dir: Path
    report_json: Path
    report_html: Path
    report: dict[str, Any]
    steps: list[StepRecord] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The ``weakflow run --json`` object."""
        head = self.report["headline"]
        return {
            "run_id": self.run_id,
            "report_html": str(self.report_html),
            "report_json": str(self.report_json),
            "label_model": head["label_model"],
            "end_model": head["end_model"],
            "data_checks": [
                {k: c[k] for k in ("name", "severity", "passed", "message")}
                for c in self.report["data"]["checks"]
            ],
            "model_artifact": self.report["end_model"]["artifact"],
            "model": self.report.get("model"),
            "steps": [
                {"name": s.name, "seconds": round(s.seconds, 3), "cached": s.cached}
                for s in self.steps
            ],
        }


_HINTS = {
    "load": "Check the paths under [data] in weakflow.toml (relative to the project folder).",
    "checks": "Fix the data as described, or skip a check with [data_checks] skip = [...].",
    "labeling": "Fix the labeling function named above in the LF module, then run again.",
    "label_model": "Check the LFs' votes (weakflow demo shows an LF summary) and [label_model].",
    "end_model": "Check [end_model] in weakflow.toml.",
    "register": "Check [store] url and [gates] rules in weakflow.toml.",
    "evaluation": "Check [evaluation] (slice columns, slicing module) in weakflow.toml.",
}


class _Runner:
    def __init__(self, project: Project, report_step: Callable[[StepRecord], None] | None) -> None:
        self.project = project
        self.config: ProjectConfig = project.config
        self.artifacts = ArtifactStore(project.state_dir / "artifacts")
        self.cache = StepCache(project.state_dir / "cache", self.artifacts)
        self.steps: list[StepRecord] = []
        self.cache_keys: dict[str, str] = {}
        self._report = report_step

    def step(self, name: str, fn: Callable[[], tuple[T, bool, str]]) -> T:
        start = time.perf_counter()
        try:
            value, cached, detail = fn()
        except PipelineError:
            raise
        except WeakflowError as exc:
            raise PipelineError(
                f"{name}: {exc}\n  How to fix: {_HINTS.get(name, '')}", step=name
            ) from exc
        except Exception as exc:
            raise PipelineError(
                f"{name}: unexpected {type(exc).__name__}: {exc}\n  How to fix: "
                f"{_HINTS.get(name, '')} Run with --debug for the full traceback.",
                step=name,
            ) from exc
        record = StepRecord(name, time.perf_counter() - start, cached, detail)
        self.steps.append(record)
        if self._report is not None:
            self._report(record)
        return value

    def cached(
        self, name: str, inputs: dict[str, Any], compute: Callable[[], dict[str, str]]
    ) -> tuple[dict[str, str], bool]:
        """Outputs (artifact hashes) of step ``name`` for ``inputs``, computed only on a miss."""
        key = step_key(name, inputs)
        self.cache_keys[name] = key
        hit = self.cache.get(key)
        if hit is not None:
            return hit, True
        outputs = compute()
        self.cache.put(key, name, outputs)
        return outputs, False


def _labels_of(ds: Dataset, cfg: ProjectConfig) -> np.ndarray:
    return np.asarray(encode_labels(ds.frame[cfg.data.label_column], cfg.data.label_names))


def run_project(
    project: Project | str | Path,
    *,
    on_step: Callable[[StepRecord], None] | None = None,
    alias: str | None = None,
    actor: str | None = None,
) -> RunResult:
    """Run the whole pipeline for a project and write its report; see the module docstring.

    ``alias`` overrides ``[gates] alias`` (the alias a passing model moves), e.g. ``"canary"``
    when the retraining loop wants a new version tried on live traffic first; ``actor`` is who
    the audit log records (default: ``$WEAKFLOW_ACTOR`` or the OS user).
    """
    if not isinstance(project, Project):
        project = Project.load(project)
    cfg = project.config
    runner = _Runner(project, on_step)
    runs = RunStore(project.runs_dir)
    run_id = runs.new_run_id()
    target_alias, acting = alias or cfg.gates.alias, actor
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    k = len(cfg.data.label_names)
    seed = cfg.project.seed

    # -- load -------------------------------------------------------------------------------
    def load() -> tuple[dict[str, Any], bool, str]:
        out: dict[str, Any] = {}
        for role in ROLES:
            path = project.path(getattr(cfg.data, role))
            frame = read_table(path)
            out[role] = {
                "dataset": Dataset(
                    role=role, frame=frame, source=str(path), labeled=role != "train"
                ),
                "sha256": content_hash(path),
            }
        extra = _feedback_for_dev(project)
        n_train = len(out["train"]["dataset"].frame)
        out["train"]["feedback_gold"] = np.full(n_train, -1, dtype=np.int64)
        out["dev"]["curated"] = len(out["dev"]["dataset"].frame)
        more = []
        if len(extra):
            row_hashes = np.asarray(
                pd.util.hash_pandas_object(extra.astype(str), index=False), dtype=np.uint64
            )
            to_train = (row_hashes % np.uint64(10_000)) < round(cfg.data.feedback_to_train * 1e4)
            for role, part in (("dev", extra[~to_train]), ("train", extra[to_train])):
                if not len(part):
                    continue
                ds = out[role]["dataset"]
                added = part if role == "dev" else part.drop(columns=[cfg.data.label_column])
                frame = pd.concat([ds.frame, added], ignore_index=True)
                out[role]["dataset"] = Dataset(
                    role=role, frame=frame, source=ds.source, labeled=role != "train"
                )
                more.append(f"{role} {len(part):,}")
            if to_train.any():
                gold = np.asarray(
                    encode_labels(extra.loc[to_train, cfg.data.label_column], cfg.data.label_names)
                )
                out["train"]["feedback_gold"] = np.r_[out["train"]["feedback_gold"], gold]
                digest = hashlib.sha256(out["train"]["sha256"].encode())
                digest.update(row_hashes[to_train].tobytes() + gold.astype(np.int64).tobytes())
                out["train"]["sha256"] = digest.hexdigest()
            if (~to_train).any():
                digest = hashlib.sha256(out["dev"]["sha256"].encode())
                digest.update(row_hashes[~to_train].tobytes())
                out["dev"]["sha256"] = digest.hexdigest()
        rows = ", ".join(f"{r} {len(out[r]['dataset'].frame):,}" for r in ROLES)
        note = f" (feedback labels: {', '.join(more)})" if more else ""
        return out, False, f"{rows} rows{note}"

    loaded = runner.step("load", load)
    datasets = {r: loaded[r]["dataset"] for r in ROLES}
    hashes = {r: loaded[r]["sha256"] for r in ROLES}
    #: Gold labels of the train rows that came from feedback (-1 elsewhere): they train the end
    #: model as they are, whatever the label model says about them.
    feedback_gold = loaded["train"]["feedback_gold"]
    #: The project's own dev rows (feedback rows follow them): they alone select the label model
    #: and fit the calibration. Feedback comes from whatever traffic was labeled (often a drifted
    #: slice), so letting it steer selection tunes the model to that slice: on the demo, 150
    #: drifted labels in dev moved selection to a label model 8 points worse on the test set.
    curated = np.arange(len(datasets["dev"].frame)) < loaded["dev"]["curated"]

    # -- data checks --------------------------------------------------------------------------
    def checks() -> tuple[list[dict[str, Any]], bool, str]:
        inputs = {
            "data": hashes,
            "columns": [
                cfg.data.text_column,
                cfg.data.label_column,
                cfg.data.id_column,
                cfg.data.feature_columns,
                cfg.data.label_names,
            ],
            "checks": cfg.data_checks.model_dump(mode="json"),
            "redact": cfg.data.redact_pii,
            "seed": seed,
        }

        def compute() -> dict[str, str]:
            options = DataCheckOptions.from_dict(cfg.data_checks.options)
            results = run_data_checks(
                [datasets[r] for r in ROLES],
                label_column=cfg.data.label_column,
                label_names=cfg.data.label_names,
                text_column=cfg.data.text_column,
                id_column=cfg.data.id_column,
                feature_columns=cfg.data.feature_columns or None,
                options=options,
                random_state=seed,
            )
            kept = [r.to_dict() for r in results if r.name not in cfg.data_checks.skip]
            return {"results": runner.artifacts.put_json(kept)}

        outputs, hit = runner.cached("checks", inputs, compute)
        results: list[dict[str, Any]] = runner.artifacts.get_json(outputs["results"])
        _raise_for_check_errors(results)
        bad = [r for r in results if not r["passed"]]
        detail = (
            f"{len(results)} checks, {len(bad)} warnings"
            if bad
            else f"{len(results)} checks passed"
        )
        return results, hit, detail

    check_results = runner.step("checks", checks)
    pii_counts = _pii_counts(check_results)
    if cfg.data.redact_pii and text_col_present(datasets, cfg):
        # The checks saw the raw text (to count PII); nothing downstream does: LFs, the end
        # model, the cache and the report only ever get the redacted text.
        for ds in datasets.values():
            ds.frame[cfg.data.text_column] = redact_pii(
                ds.frame[cfg.data.text_column], region=cfg.data.pii_region
            )
    y_dev = _labels_of(datasets["dev"], cfg)
    y_test = _labels_of(datasets["test"], cfg)

    # -- labeling -------------------------------------------------------------------------------
    lf_path = project.path(cfg.labeling.module)
    module_holder: dict[str, LFModule] = {}

    def labeling() -> tuple[dict[str, LabelMatrix], bool, str]:
        module = load_lf_module(lf_path)
        module_holder["module"] = module
        inputs = {
            "data": hashes,
            "lf_module": module.sha256,
            "labeling": cfg.labeling.model_dump(mode="json"),
            "k": k,
            "redact": cfg.data.redact_pii,
        }

        def compute() -> dict[str, str]:
            out = {}
            for role in ROLES:
                L = apply_lfs(
                    module.lfs,
                    datasets[role].frame,
                    engine=cfg.labeling.engine,
                    progress=True,
                    fault_tolerant=cfg.labeling.fault_tolerant,
                    cardinality=k,
                )
                out[role] = runner.artifacts.put_array(L.values)
                out[f"{role}_faults"] = runner.artifacts.put_json(L.fault_counts)
            return out

        outputs, hit = runner.cached("labeling", inputs, compute)
        names = [lf.name for lf in module.lfs]
        kinds = [lf.kind for lf in module.lfs]
        mats = {
            role: LabelMatrix(
                runner.artifacts.get_array(outputs[role]),
                names,
                datasets[role].frame.index.to_numpy(),
                cardinality=k,
                fault_counts=runner.artifacts.get_json(outputs[f"{role}_faults"]),
                lf_kinds=kinds,
            )
            for role in ROLES
        }
        return mats, hit, f"{len(names)} LFs on {sum(m.n_rows for m in mats.values()):,} rows"

    L = runner.step("labeling", labeling)
    module = module_holder["module"]

    # -- LF changes since the registered version (the LF-poisoning screen) ---------------------
    def lf_changes() -> tuple[dict[str, Any] | None, bool, str]:
        found = _lf_changes(project, module, datasets, L, y_dev, k)
        if found is None:
            return None, False, "no registered version to compare with"
        flagged = [c["name"] for c in found["lfs"] if c["flagged"]]
        changed = sum(c["status"] != "unchanged" for c in found["lfs"])
        detail = f"vs v{found['version']}: {changed} LF(s) changed, {len(flagged)} flagged"
        return found, False, detail + (f" ({', '.join(flagged)})" if flagged else "")

    changes = runner.step("lf_changes", lf_changes) if cfg.labeling.screen_changes else None

    # -- label model ----------------------------------------------------------------------------
    def label_model() -> tuple[dict[str, Any], bool, str]:
        inputs = {
            "labeling": runner.cache_keys["labeling"],
            "label_model": cfg.label_model.model_dump(mode="json"),
            "dev_labels": runner.artifacts.put_array(y_dev),
            "seed": seed,
        }

        def compute() -> dict[str, str]:
            lm = LabelModel(
                cfg.label_model.method,
                cardinality=k,
                class_balance=cfg.label_model.class_balance,
                metric=cfg.label_model.metric
                if (k == 2 or cfg.label_model.metric != "f1")
                else "f1_macro",
                random_state=seed,
            ).fit(L["train"], L_dev=L["dev"].values[curated], y_dev=y_dev[curated])
            out = {f"proba_{r}": runner.artifacts.put_array(lm.predict_proba(L[r])) for r in ROLES}
            out.update({f"pred_{r}": runner.artifacts.put_array(lm.predict(L[r])) for r in ROLES})
            info = {
                "method": cfg.label_model.method,
                "selected": lm.method_,
                "threshold": lm.threshold_,
                "selection": lm.selection_,
                "class_balance": lm.class_balance_.tolist(),
                "lf_accuracies": [None if np.isnan(a) else float(a) for a in lm.lf_accuracies_],
            }
            out["info"] = runner.artifacts.put_json(info)
            return out

        outputs, hit = runner.cached("label_model", inputs, compute)
        got: dict[str, Any] = {
            name: runner.artifacts.get_array(d) for name, d in outputs.items() if name != "info"
        }
        got["info"] = runner.artifacts.get_json(outputs["info"])
        got["proba_train_hash"] = outputs["proba_train"]
        acc = float(np.mean(got["pred_test"] == y_test))
        return got, hit, f"{got['info']['selected']}, test accuracy {acc:.3f}"

    lm_out = runner.step("label_model", label_model)

    # -- end model ------------------------------------------------------------------------------
    text_col = cfg.data.text_column
    feature_cols = cfg.data.feature_columns

    def inputs_of(role: str) -> Any:
        return model_inputs(datasets[role].frame, cfg)

    def end_model() -> tuple[dict[str, Any], bool, str]:
        covered = (L["train"].values != -1).any(axis=1)
        inputs = {
            "train": hashes["train"],
            "proba": lm_out["proba_train_hash"],
            "end_model": cfg.end_model.model_dump(mode="json"),
            "columns": [text_col, feature_cols],
            "seed": seed,
            "redact": cfg.data.redact_pii,
        }

        def compute() -> dict[str, str]:
            estimator = build_end_model(
                cfg.end_model.type,
                estimator=cfg.end_model.estimator,
                params=cfg.end_model.params,
                random_state=seed,
                portable=cfg.end_model.portable,
            )
            proba_train = lm_out["proba_train"]
            gold = feedback_gold >= 0
            if gold.any():
                proba_train = proba_train.copy()
                proba_train[gold] = np.eye(k)[feedback_gold[gold]]
            fit = fit_noise_aware(
                estimator,
                inputs_of("train"),
                proba_train,
                covered=(covered | gold) if cfg.end_model.drop_abstained else None,
                method="expand" if cfg.end_model.training == "expand" else "weighted",
            )
            info = {
                "rows_used": fit.rows_used,
                "dropped_abstained": fit.rows_dropped_abstained,
                "examples_fitted": fit.examples_fitted,
                "training": fit.method,
            }
            return {
                "model": runner.artifacts.put_model(fit.model),
                "info": runner.artifacts.put_json(info),
            }

        outputs, hit = runner.cached("end_model", inputs, compute)
        model = runner.artifacts.get_model(outputs["model"])
        info = runner.artifacts.get_json(outputs["info"])
        return (
            {"model": model, "artifact": outputs["model"], **info},
            hit,
            (
                f"{cfg.end_model.type} model on {info['rows_used']:,} rows "
                f"({info['dropped_abstained']:,} without votes dropped)"
            ),
        )

    em = runner.step("end_model", end_model)

    # -- calibration and evaluation -------------------------------------------------------------
    names = cfg.data.label_names

    def evaluation() -> tuple[dict[str, Any], bool, str]:
        proba_dev = end_model_proba(em["model"], inputs_of("dev"), k)
        proba_test = end_model_proba(em["model"], inputs_of("test"), k)
        choice = choose_calibration(
            proba_dev[curated],
            y_dev[curated],
            methods=tuple(cfg.calibration.methods),
            n_bins=cfg.calibration.bins,
        )
        cal_test = choice.transform(proba_test)
        test_before = calibration_summary(y_test, proba_test, n_bins=cfg.calibration.bins)
        test_after = calibration_summary(y_test, cal_test, n_bins=cfg.calibration.bins)
        # dev metrics before calibration: the calibrator is fitted on dev (in-sample there)
        end_dev = classification_metrics(y_dev, proba_dev, label_names=names)
        end_test = classification_metrics(y_test, cal_test, label_names=names)
        end_test["calibration"] = test_after
        slices = _slices(cfg, project, datasets["test"].frame)
        slice_rows = slice_metrics(
            y_test, cal_test, slices, label_names=names, metric=cfg.evaluation.slice_metric
        )
        lm_dev = classification_metrics(
            y_dev, lm_out["proba_dev"], label_names=names, y_pred=lm_out["pred_dev"]
        )
        lm_test = classification_metrics(
            y_test, lm_out["proba_test"], label_names=names, y_pred=lm_out["pred_test"]
        )

        # -- security: robustness under input attacks, membership inference (docs/security.md)
        def served_proba(frame: pd.DataFrame) -> np.ndarray:
            return np.asarray(
                choice.transform(end_model_proba(em["model"], model_inputs(frame, cfg), k))
            )

        robustness = None
        if cfg.evaluation.robustness:
            # the label model is not kept by its step: refit it exactly as there (deterministic)
            # and use it only if it reproduces the step's test predictions
            lm = LabelModel(
                cfg.label_model.method, cardinality=k, class_balance=cfg.label_model.class_balance,
                metric=cfg.label_model.metric
                if (k == 2 or cfg.label_model.metric != "f1") else "f1_macro",
                random_state=seed,
            ).fit(L["train"], L_dev=L["dev"].values[curated], y_dev=y_dev[curated])  # fmt: skip
            same_lm = bool(np.array_equal(lm.predict(L["test"]), lm_out["pred_test"]))
            train_frame = datasets["train"].frame
            scales = {
                c: float(np.nanstd(pd.to_numeric(train_frame[c], errors="coerce")))
                for c in feature_cols
                if c in train_frame.columns
            }
            robustness = evaluate_robustness(
                datasets["test"].frame, y_test, predict=served_proba,
                votes=lambda f: apply_lfs(
                    module.lfs, f, progress=False, fault_tolerant=True, cardinality=k
                ).values,
                label_model=lm.predict if same_lm else None,
                lf_names=[lf.name for lf in module.lfs], cardinality=k, text_column=text_col,
                feature_columns=feature_cols, attacks=cfg.evaluation.robustness_attacks,
                rate=cfg.evaluation.robustness_rate, noise=cfg.evaluation.robustness_noise,
                seed=seed, scales=scales,
            )  # fmt: skip
        membership = None
        if cfg.evaluation.membership:
            gold = feedback_gold >= 0
            fitted = (L["train"].values != -1).any(axis=1) | gold
            if not cfg.end_model.drop_abstained:
                fitted[:] = True
            decimals = {0, 1, 2, 3} | (
                set() if cfg.serve.probability_decimals is None
                else {cfg.serve.probability_decimals}
            )  # fmt: skip
            membership = membership_inference(
                served_proba(datasets["train"].frame)[fitted],
                np.concatenate([cal_test, choice.transform(proba_dev)]),
                roundings=sorted(decimals),
            )
            membership["member_rows"] = "train rows the end model was fitted on"
            membership["non_member_rows"] = "test and dev rows"
        out = {
            "calibration": {**choice.to_dict(), "before": test_before, "after": test_after},
            "end_dev": end_dev,
            "end_test": end_test,
            "lm_dev": lm_dev,
            "lm_test": lm_test,
            "slices": slice_rows,
            "calibrator": choice.calibrator if choice.kept else None,
            "robustness": robustness,
            "privacy": None if membership is None else {"membership": membership},
        }
        detail = (
            f"end model test accuracy {end_test['accuracy']:.3f} (label model "
            f"{lm_test['accuracy']:.3f}), ECE {test_before['ece']:.3f} -> {test_after['ece']:.3f}"
        )
        worst = (robustness or {}).get("summary", {})
        if "accuracy_min" in worst:
            detail += f"; under attack {worst['accuracy_min']:.3f} ({worst['worst_attack']})"
        if membership is not None:
            detail += f"; membership AUC {membership['auc']:.3f} ({membership['risk']})"
        return out, False, detail

    ev = runner.step("evaluation", evaluation)

    # -- report ---------------------------------------------------------------------------------
    def report() -> tuple[dict[str, Any], bool, str]:
        summary = lf_summary(L["train"], cardinality=k)
        dev_summary = lf_summary(L["dev"], y_dev, cardinality=k)
        learned = lm_out["info"]["lf_accuracies"]
        lf_rows = []
        for i, (name, row) in enumerate(summary.iterrows()):
            lf_rows.append(
                {
                    "name": str(name),
                    "kind": row.get("kind"),
                    "polarity": [names[c] for c in row["polarity"]],
                    "coverage": float(row["coverage"]),
                    "overlaps": float(row["overlaps"]),
                    "conflicts": float(row["conflicts"]),
                    "emp_accuracy": _float(dev_summary["emp_accuracy"].iloc[i]),
                    "learned_accuracy": learned[i],
                    "faults": int(L["train"].fault_counts.get(str(name), 0)),
                }
            )
        votes = (L["train"].values != -1).sum(axis=1)
        train_dist = lm_out["proba_train"].mean(axis=0)
        end_test, lm_test = ev["end_test"], ev["lm_test"]
        report_dict: dict[str, Any] = {
            "run_id": run_id,
            "created_at": created,
            "project": cfg.project.name,
            "label_names": list(names),
            "headline": {
                "label_model": {
                    "test": {"accuracy": lm_test["accuracy"], "f1_macro": lm_test["f1_macro"]}
                },
                "end_model": {
                    "test": {
                        "accuracy": end_test["accuracy"],
                        "f1_macro": end_test["f1_macro"],
                        "ece": ev["calibration"]["after"]["ece"],
                        "brier": ev["calibration"]["after"]["brier"],
                    }
                },
            },
            "data": {
                "datasets": [
                    {
                        "role": r,
                        "source": str(Path(datasets[r].source).relative_to(project.root))
                        if Path(datasets[r].source).is_relative_to(project.root)
                        else datasets[r].source,
                        "rows": len(datasets[r].frame),
                        "sha256": hashes[r],
                    }
                    for r in ROLES
                ],
                "checks": check_results + _lf_change_check(changes),
                "pii": pii_counts,
            },
            "labeling": {
                "changes": changes,
                "lf_summary": lf_rows,
                "totals": summary.attrs["totals"],
                "votes_per_row": np.bincount(votes, minlength=2).tolist(),
                "train_label_distribution": {
                    n: float(p) for n, p in zip(names, train_dist, strict=True)
                },
            },
            "label_model": {
                "method": lm_out["info"]["method"],
                "selected": lm_out["info"]["selected"],
                "threshold": lm_out["info"]["threshold"],
                "class_balance": lm_out["info"]["class_balance"],
                "selection": lm_out["info"]["selection"],
                "dev": ev["lm_dev"],
                "test": lm_test,
            },
            "end_model": {
                "name": cfg.end_model.type,
                "params": cfg.end_model.model_dump(mode="json"),
                "artifact": em["artifact"],
                "train_rows": em["rows_used"],
                "dropped_abstained": em["dropped_abstained"],
                "examples_fitted": em["examples_fitted"],
                "dev": ev["end_dev"],
                "test": end_test,
                "calibration": ev["calibration"],
                "slices": ev["slices"],
            },
        }
        if ev.get("robustness") is not None:
            report_dict["robustness"] = ev["robustness"]
        if ev.get("privacy") is not None:
            report_dict["privacy"] = ev["privacy"]
        report_dict["provenance"] = {
            "run_id": run_id,
            "created_at": created,
            "packages": package_versions(),
            "git": git_commit(project.root),
            "config": cfg.to_dict(),
            "inputs": report_dict["data"]["datasets"],
            "lf_module": {
                "path": str(module.path.relative_to(project.root))
                if module.path.is_relative_to(project.root)
                else str(module.path),
                "sha256": module.sha256,
                "source": module.source,
            },
            "lfs": [
                {"name": lf.name, "kind": lf.kind, "source_sha256": lf.source_hash}
                for lf in module.lfs
            ],
            "label_model": {
                "selected": lm_out["info"]["selected"],
                **cfg.label_model.model_dump(mode="json"),
            },
            "end_model": {"artifact": em["artifact"], **cfg.end_model.model_dump(mode="json")},
            "seeds": {"project": seed},
            "cache_keys": dict(runner.cache_keys),
            "weakflow": __version__,
        }
        run_dir = runs.run_dir(run_id)
        json_path, html_path = write_report(report_dict, run_dir)
        runs.write_text(run_id, "datasheet.md", render_datasheet(report_dict))
        runs.write_json(run_id, "provenance.json", report_dict["provenance"])
        return (
            {"report": report_dict, "json": json_path, "html": html_path},
            False,
            f"runs/{run_id}/report.html",
        )

    rep = runner.step("report", report)

    # -- registry: register the version, apply the gates, move the alias ------------------------
    def register() -> tuple[dict[str, Any], bool, str]:
        report_dict = rep["report"]
        registry = open_registry(project.state_dir, cfg.store.url)
        try:
            actor = acting or current_actor()
            name, alias = cfg.project.name, target_alias
            candidate = metrics_from_report(report_dict)
            # regression rules compare with what is live ([gates] alias), even when this run
            # moves another alias (the loop's canary)
            known = name in registry.models()
            live = registry.alias_version(name, cfg.gates.alias) if known else None
            previous = registry.alias_version(name, alias) if known else None
            production = registry.get(name, live).metrics if live is not None else None
            gates = [g.to_dict() for g in evaluate_gates(cfg.gates.rules, candidate, production)]
            passed = all(g["passed"] for g in gates)
            datasheet = render_datasheet(report_dict)

            def card(version: int) -> tuple[dict[str, Any], str]:
                built = build_model_card(
                    report_dict,
                    name=name,
                    version=version,
                    datasheet=datasheet,
                    intended_use=cfg.project.intended_use,
                    gates=gates,
                )
                return built, render_model_card(built)

            # What is registered is what was evaluated: the end model with its calibrator.
            packaged = PackagedModel(em["model"], ev["calibrator"], label_names=list(names))
            info = registry.register(
                name,
                artifact_sha256=runner.artifacts.put_model(packaged),
                actor=actor,
                run_id=run_id,
                metrics=candidate,
                lineage=report_dict["provenance"],
                card=card,
                gates=gates,
                gates_passed=passed,
            )
            registry.record_gate_decision(
                name, info.version, results=gates, passed=passed, alias=alias, actor=actor
            )
            if passed:
                why = "every gate passed" if gates else "no gates configured"
                registry.promote(name, info.version, alias, actor=actor, reason=why, action="gate")
            runs.write_json(run_id, "model_card.json", info.card)
            runs.write_text(run_id, "model_card.md", info.card_markdown)
            model = {
                "name": name,
                "version": info.version,
                "alias": alias,
                "promoted": passed,
                "previous": previous,
                "gates": gates,
            }
            registry.record_run(
                run_id,
                project=name,
                status="succeeded",
                report_path=str(rep["html"]),
                summary={"headline": report_dict["headline"], "model": model},
                actor=actor,
            )
        finally:
            registry.db.close()
        failed = [g["rule"] for g in gates if not g["passed"]]
        verdict = f"-> {alias}" if passed else f"kept off {alias}: {len(failed)} gate(s) failed"
        return model, False, f"{name} v{info.version} {verdict}"

    model_info = runner.step("register", register)
    rep["report"]["model"] = model_info
    return RunResult(
        run_id=run_id,
        run_dir=runs.run_dir(run_id),
        report_json=rep["json"],
        report_html=rep["html"],
        report=rep["report"],
        steps=runner.steps,
    )


def _lf_changes(
    project: Project,
    module: LFModule,
    datasets: dict[str, Dataset],
    L: dict[str, LabelMatrix],
    y_dev: np.ndarray,
    k: int,
) -> dict[str, Any] | None:
    """This run's LFs against the registered version's (live alias, else the newest)."""
    cfg = project.config
    url = store_url(project.state_dir, cfg.store.url)
    if url.startswith("sqlite") and not (project.state_dir / "weakflow.db").exists():
        return None
    registry = open_registry(project.state_dir, cfg.store.url)
    try:
        name = cfg.project.name
        if name not in registry.models():
            return None
        version = registry.alias_version(name, cfg.gates.alias)
        if version is None:
            version = max(v.version for v in registry.versions(name))
        lineage = registry.get(name, version).lineage
    finally:
        registry.db.close()
    source = (lineage.get("lf_module") or {}).get("source")
    if not isinstance(source, str) or not source.strip():
        return None
    out: dict[str, Any] = {"version": version, "diff": module_diff(source, module.source)}
    if hashlib.sha256(source.encode()).hexdigest() == module.sha256:
        out["lfs"] = [{"name": n, "status": "unchanged", "flagged": False, "reasons": []}
                      for n in L["train"].lf_names]  # fmt: skip
        return out
    try:
        before = load_lf_source(source, f"v{version}").lfs
    except WeakflowError as exc:
        out["lfs"], out["error"] = [], f"v{version}'s LF module does not load here: {exc}"
        return out
    lab = cfg.labeling

    def votes(role: str) -> np.ndarray:
        frame = datasets[role].frame
        matrix = apply_lfs(before, frame, progress=False, fault_tolerant=True, cardinality=k)
        return np.asarray(matrix.values)

    found = compare_lf_votes(
        votes("train"), [lf.name for lf in before], L["train"].values, L["train"].lf_names,
        dev_before=votes("dev"), dev_after=L["dev"].values, y_dev=y_dev,
        max_flip_rate=lab.max_flip_rate, max_accuracy_drop=lab.max_accuracy_drop,
        max_agreement_drop=lab.max_agreement_drop,
    )  # fmt: skip
    out["lfs"] = [c.to_dict() for c in found]
    return out


def _lf_change_check(changes: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The LF screen as one more check (``checks.lf_changes``), so that a gate can block on it."""
    if changes is None:
        return [{"name": "lf_changes", "severity": "warning", "passed": True, "findings": [],
                 "message": "Skipped: no registered version to compare the LFs with, or "
                 "[labeling] screen_changes = false."}]  # fmt: skip
    flagged = [c for c in changes["lfs"] if c["flagged"]]
    message = (
        f"No LF moved sharply since v{changes['version']}."
        if not flagged
        else "; ".join(f"LF {c['name']}: {', '.join(c['reasons'])}" for c in flagged)
        + f" (since v{changes['version']}; the diff is in the report)"
    )
    return [{"name": "lf_changes", "severity": "warning", "passed": not flagged,
             "message": message, "findings": [c["name"] for c in flagged]}]  # fmt: skip


def _feedback_for_dev(project: Project) -> pd.DataFrame:
    """Gold rows from feedback on the project's served predictions (empty when there are none).

    Only when a store database already exists: a first run never creates one just to look.
    """
    cfg = project.config
    url = store_url(project.state_dir, cfg.store.url)
    if not cfg.data.feedback_to_dev or (
        url.startswith("sqlite") and not (project.state_dir / "weakflow.db").exists()
    ):
        return pd.DataFrame()
    from weakflow.feedback import feedback_rows, quarantined_sources, screen_feedback
    from weakflow.store import Database

    db = Database(url)
    try:
        fb = cfg.feedback
        if fb.screen:
            screen_feedback(
                db, cfg.project.name, label_names=cfg.data.label_names, actor=current_actor(),
                alpha=fb.alpha, min_labels=fb.min_labels, max_share=fb.max_share,
                min_gap=fb.min_gap,
            )  # fmt: skip
        rows = feedback_rows(
            db, cfg.project.name, label_names=cfg.data.label_names,
            label_column=cfg.data.label_column, id_column=cfg.data.id_column,
            exclude_sources=sorted(quarantined_sources(db)),
        )  # fmt: skip
    finally:
        db.close()
    return rows


def model_inputs(frame: pd.DataFrame, cfg: ProjectConfig) -> Any:
    """What the end model reads from a table: its feature columns, or its text column."""
    if cfg.end_model.type == "tabular" or (
        cfg.end_model.type == "sklearn" and cfg.data.feature_columns
    ):
        return frame[cfg.data.feature_columns]
    if cfg.data.text_column is None:
        raise PipelineError("end_model: a text end model needs data.text_column.", step="end_model")
    return frame[cfg.data.text_column].fillna("").astype(str)


def end_model_inputs(project: Project, role: str) -> Any:
    """The end model's inputs for one of the project's tables (e.g. the test set, for export)."""
    cfg = project.config
    frame = read_table(project.path(getattr(cfg.data, role)))
    if cfg.data.redact_pii and cfg.data.text_column in frame.columns:
        frame[cfg.data.text_column] = redact_pii(
            frame[cfg.data.text_column], region=cfg.data.pii_region
        )
    return model_inputs(frame, cfg)


def text_col_present(datasets: dict[str, Dataset], cfg: ProjectConfig) -> bool:
    col = cfg.data.text_column
    return col is not None and all(col in ds.frame.columns for ds in datasets.values())


def _pii_counts(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """PII counts per input and text column, from the (cached) pii check on the raw text."""
    pii = next((r for r in results if r["name"] == "pii"), None)
    if pii is None:
        return None
    out: dict[str, Any] = {}
    for finding in pii.get("details", {}).get("findings", []):
        out[f"{finding['dataset']}.{finding['column']}"] = {
            "counts": finding["counts"],
            "rows_affected": finding["rows_affected"],
        }
    return out


def _float(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(v) else v


def _raise_for_check_errors(results: list[dict[str, Any]]) -> None:
    failed = [r for r in results if r["severity"] == "error" and not r["passed"]]
    if failed:
        lines = "\n  ".join(f"[{r['name']}] {r['message']}" for r in failed)
        raise PipelineError(
            f"checks: {len(failed)} data check(s) failed:\n  {lines}\n"
            f"  How to fix: {_HINTS['checks']}",
            step="checks",
        )


def _slices(cfg: ProjectConfig, project: Project, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    slices: dict[str, np.ndarray] = {}
    for column in cfg.evaluation.slice_columns:
        if column not in frame.columns:
            raise PipelineError(
                f"evaluation: slice column {column!r} is not in the test data (columns: "
                f"{', '.join(map(str, frame.columns))}). Fix evaluation.slice_columns.",
                step="evaluation",
            )
        slices.update(auto_slices(frame, column))
    if cfg.evaluation.slicing_module:
        _, sfs = load_objects(
            project.path(cfg.evaluation.slicing_module),
            SlicingFunction,
            list_name="SLICES",
            what="slicing module",
        )
        slices.update(apply_slicing_functions(sfs, frame))
    return slices
