// Entry point: bill every pending order and log failures with their stack.
import { Cart, Invoice } from "./cart.js";
import { fetchOrders } from "./catalog.js";

async function handleOrder(order) {
  const cart = new Cart(order.customer);
  for (const line of order.lines) {
    cart.add(line.sku, line.qty);
  }
  await Promise.resolve();
  return new Invoice(cart);
}

async function processQueue() {
  const orders = await fetchOrders();
  for (const order of orders) {
    const invoice = await handleOrder(order);
    console.log(String(invoice));
  }
}

async function run() {
  try {
    await processQueue();
  } catch (err) {
    console.error(err.stack);
    process.exitCode = 1;
  }
}

run();
