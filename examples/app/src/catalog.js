// A tiny product catalog, standing in for a database.
import { toCents } from "./money.js";

const PRODUCTS = new Map([
  ["tea", { name: "Green tea", price: toCents(4.5) }],
  ["mug", { name: "Stoneware mug", price: toCents(12) }],
  ["pot", { name: "Cast-iron teapot", price: toCents(39.9) }],
]);

export function findProduct(sku) {
  return PRODUCTS.get(sku);
}

export async function fetchOrders() {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return [
    { customer: "ada", lines: [{ sku: "tea", qty: 3 }, { sku: "mug", qty: 1 }] },
    // "cup" is not in the catalog: the bug this example is about.
    { customer: "grace", lines: [{ sku: "pot", qty: 1 }, { sku: "cup", qty: 2 }] },
  ];
}
