"""Background work for predictions: thin and idempotent."""

from django_tasks import task


@task()
def predictions_refresh_task() -> int:
    """Refit the models and rescore every customer (kervan.predictions.actions.predictions_refresh); scheduled each
    night (PredictionsConfig.ready). Returns how many customers were scored."""
    from kervan.predictions.actions import predictions_refresh

    return predictions_refresh().customers


@task()
def predictions_calibrate_task() -> int:
    """Compute and store the calibration/holdout report (kervan.predictions.calibration); scheduled each night.
    Returns how many customers it compared."""
    from kervan.predictions.calibration import calibration_report

    return calibration_report().customers
