"""Celery tasks of the webhooks: the tick (beat) and one delivery attempt. Both safe to run twice."""

from celery import shared_task

from api.webhooks.delivery import deliveries_to_queue, delivery_send, events_fan_out


@shared_task(ignore_result=True)
def webhooks_tick_task() -> None:
    """Fan new events out to their endpoints and queue the deliveries that are due."""
    events_fan_out()
    for delivery_id in deliveries_to_queue():
        send_delivery_task.delay(delivery_id)


@shared_task(ignore_result=True, acks_late=True)
def send_delivery_task(delivery_id: int) -> str:
    return delivery_send(delivery_id=delivery_id)
