// A shopping cart: named functions, methods of an object literal, a prototype
// method, arrows and an anonymous callback (Hermes 0.12 has no classes; Metro's
// Babel preset would lower them to functions like these).
function Cart(items) {
  this.items = items;
}

Cart.prototype.total = function () {
  return this.items.reduce((sum, item) => {
    if (item.price < 0) {
      throw new Error('negative price for ' + item.name);
    }
    return sum + item.price * item.quantity;
  }, 0);
};

var pricing = {
  discount(cart, code) {
    const rates = {SPRING: 0.1, VIP: 0.25};
    if (!(code in rates)) {
      throw new RangeError('unknown code ' + code);
    }
    return cart.total() * (1 - rates[code]);
  },
  tax: function (amount) {
    return amount * 1.2;
  },
};

function checkout(cart, code) {
  const discounted = pricing.discount(cart, code);
  return pricing.tax(discounted);
}

module.exports = {Cart, checkout, pricing};
