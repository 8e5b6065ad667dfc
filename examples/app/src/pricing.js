// Pricing rules: unit prices, quantity discounts.
import { findProduct } from "./catalog.js";

export function priceOf(line) {
  const product = findProduct(line.sku);
  if (line.qty <= 0) {
    throw new RangeError(`bad quantity for ${line.sku}: ${line.qty}`);
  }
  return product.price;
}

export function lineTotal(line) {
  const unit = priceOf(line);
  const discount = line.qty >= 3 ? 0.1 : 0;
  return Math.round(unit * line.qty * (1 - discount));
}
