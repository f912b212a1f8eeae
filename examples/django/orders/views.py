"""Views: place an order (the receipt job is enqueued in the same transaction) and check the receipt."""

import json

import django
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from orders.models import Order
from orders.tasks import send_receipt

if django.VERSION < (6, 0):  # Django 5.2 with the django-tasks backport
    from django_tasks.exceptions import TaskResultDoesNotExist
else:  # Django 6
    from django.tasks.exceptions import TaskResultDoesNotExist  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]


class OrderRejected(Exception):
    """Raised inside the transaction to roll the order back."""


@csrf_exempt
@require_POST
def place_order(request: HttpRequest) -> JsonResponse:
    """Save an order and enqueue its receipt; ``"reject": true`` rolls both back."""
    data = json.loads(request.body or b"{}")
    try:
        with transaction.atomic():
            order = Order.objects.create(email=data["email"], total_cents=int(data["total_cents"]))
            result = send_receipt.enqueue(order.pk)
            if data.get("reject"):
                raise OrderRejected(f"order {order.pk} rejected")
    except OrderRejected as exc:
        return JsonResponse({"error": str(exc), "task_result": result.id}, status=409)
    return JsonResponse({"order": order.pk, "task_result": result.id}, status=201)


@require_GET
def receipt_status(request: HttpRequest, result_id: str) -> JsonResponse:
    """The receipt job's status, and its return value once it succeeded."""
    try:
        result = send_receipt.get_result(result_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": f"no receipt job {result_id}"}, status=404)
    body: dict[str, object] = {"status": result.status, "attempts": result.attempts}
    if result.is_finished and result.status == "SUCCESSFUL":
        body["return_value"] = result.return_value
    if result.errors:
        body["error"] = result.errors[-1].exception_class_path
    return JsonResponse(body)
