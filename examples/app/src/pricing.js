// Pricing rules: unit prices, quantity discounts.
import { findProduct } from "./catalog.js";

export function priceOf(line) {
  const product = findProduct(line.sku);
  return product.price;
}

export function lineTotal(line) {
  const unit = priceOf(line);
  const discount = line.qty >= 3 ? 0.1 : 0;
  return Math.round(unit * line.qty * (1 - discount));
}
