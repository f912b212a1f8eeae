"""Orders, and the receipt e-mail sent in the background once an order is saved."""
