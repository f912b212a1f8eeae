"""Drive the bookshop views through Django's test client and print what they answer, as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.test import Client
from orders.models import Order


class Command(BaseCommand):
    """``place <json>``, ``receipt <result id>`` or ``orders``."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["place", "receipt", "orders"])
        parser.add_argument("value", nargs="?", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client()
        if options["action"] == "place":
            response = client.post("/orders/", data=options["value"], content_type="application/json")
            answer = {"status": response.status_code, "body": response.json()}
        elif options["action"] == "receipt":
            response = client.get(f"/receipts/{options['value']}/")
            answer = {"status": response.status_code, "body": response.json()}
        else:
            answer = {"orders": list(Order.objects.order_by("pk").values("pk", "email", "receipt_sent"))}
        self.stdout.write(json.dumps(answer))
