// The shopping cart and the invoice made from it.
import { lineTotal } from "./pricing.js";
import { formatCents } from "./money.js";

export class Cart {
  constructor(customer) {
    this.customer = customer;
    this.lines = [];
  }

  add(sku, qty) {
    this.lines.push({ sku, qty });
    return this;
  }

  total() {
    return this.lines.reduce((sum, line) => sum + lineTotal(line), 0);
  }
}

export class Invoice {
  constructor(cart) {
    this.customer = cart.customer;
    this.amount = cart.total();
  }

  toString() {
    return `${this.customer}: ${formatCents(this.amount)}`;
  }
}
