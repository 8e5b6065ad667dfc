// Money helpers: prices are kept in integer cents.

export function toCents(amount) {
  return Math.round(amount * 100);
}

export function formatCents(cents, currency = "EUR") {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")} ${currency}`;
}
