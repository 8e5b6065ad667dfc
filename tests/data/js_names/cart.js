// Original source of cart.min.js (built by UglifyJS 3.19.3, see README.md).
var shop = (function () {
  "use strict";

  function Cart(items) {
    this.items = items || [];
  }

  Cart.prototype.total = function total() {
    return this.items.reduce(function (sum, item) {
      return sum + priceOf(item) * item.count;
    }, 0);
  };

  function priceOf(item) {
    if (item.price == null) {
      throw new Error("no price for " + item.name);
    }
    return item.price;
  }

  function checkout(cart, onSuccess, onFailure) {
    try {
      var amount = cart.total();
      onSuccess(amount);
    } catch (err) {
      onFailure(err);
    }
  }

  var handlers = {
    reportError: function (err) {
      return { message: String(err), at: Date.now() };
    },
    retry: (cart) => checkout(cart, handlers.reportError, handlers.reportError),
  };

  return { Cart: Cart, checkout: checkout, handlers: handlers };
})();
