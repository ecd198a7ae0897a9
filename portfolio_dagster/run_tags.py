"""Run tags shared by the sensors that request retraining and the models asset that honours them."""

REASON_TAG = "pmx/decay_reason"  # why the retrain was requested (recorded in model_registry.reason)
TRIGGER_TAG = "pmx/retrain_trigger"  # decay | drift; runs without it are scheduled retrains
VALID_FROM_TAG = "pmx/valid_from"  # the first session the retrained models serve
AS_OF_TAG = "pmx/decay_as_of"  # the session at which the evidence was known
DECAY, DRIFT, SCHEDULE = "decay", "drift", "schedule"
