"""URLs of the bookshop example."""

from django.urls import path
from orders import views

urlpatterns = [
    path("orders/", views.place_order, name="place-order"),
    path("receipts/<str:result_id>/", views.receipt_status, name="receipt-status"),
]
