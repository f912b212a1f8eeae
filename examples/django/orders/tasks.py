"""Background tasks of the orders app: plain Django tasks, nothing queuekit-specific."""

import django

if django.VERSION < (6, 0):  # Django 5.2 with the django-tasks backport
    from django_tasks import TaskContext, task
else:  # Django 6: the tasks framework is built in (used even if the backport is still installed)
    from django.tasks import TaskContext, task  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]

from orders.models import Order


@task(queue_name="emails", priority=10, takes_context=True)
def send_receipt(context: TaskContext, order_id: int) -> dict[str, object]:
    """Mark the order's receipt as sent (a real shop would send the e-mail here)."""
    order = Order.objects.get(pk=order_id)
    order.receipt_sent = True
    order.save(update_fields=["receipt_sent"])
    return {"order": order.pk, "to": order.email, "attempt": context.attempt}
