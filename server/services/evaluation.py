"""The form engine as the sync core's injected evaluator: one form version, one province's
parameters (``sync.core.Evaluator``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from forms.answers import evaluate_submission
from forms.definition import FormDefinition
from forms.inputs import without_calculations
from forms.prefill import withheld_paths
from forms.quality import sources as quality_sources
from server.models import FormVersion
from server.scoping import province_of
from server.services import forms as form_service
from sync.core import Evaluation


class FormEvaluator:
    def __init__(self, definition: FormDefinition, parameters: Mapping, provenance: Mapping | None = None):
        self.definition, self.parameters = definition, parameters
        self.keyed_repeats = definition.instance_keys
        self.withheld = withheld_paths(definition)
        self.area_type_field = definition.outputs.get("area_type")
        self.quality_fields = quality_sources(definition)
        year = parameters.get("review_year")
        self.review_year = year if isinstance(year, int) and not isinstance(year, bool) else None
        self.provenance = dict(provenance or {"form_id": definition.form_id, "form_version": definition.version,
                                              "form_sha256": definition.sha256, "parameter_set": None})

    def evaluate(self, answers: Mapping, on: dt.date) -> Evaluation:
        result = evaluate_submission(self.definition, answers, parameters=self.parameters, today=on)  # type: ignore[arg-type]
        errors = [e.to_dict() | {"path": f"answers/{e.path}" if e.path else "answers"} for e in result.errors]
        return Evaluation(result.answers, result.computed, dict(result.outputs), errors, result.attachments)

    def answered(self, answers: Mapping) -> dict:
        return without_calculations(self.definition, answers)


class Evaluators:
    """Evaluators by (version, province), made once per request."""

    def __init__(self) -> None:
        self._made: dict[tuple, FormEvaluator] = {}

    def of(self, version: FormVersion, area_code: str) -> FormEvaluator:
        key = (version.id, province_of(area_code))
        made = self._made.get(key)
        if made is None:
            definition = form_service.definition_of(version)
            parameters, revision = form_service.effective_parameter_set(version, key[1])
            made = self._made[key] = FormEvaluator(definition, parameters, provenance={
                "form_id": version.form_id, "form_version": version.version, "form_sha256": version.sha256,
                "parameter_set": None if revision is None else {"province": key[1], "revision": revision}})
        return made
