// The app module: runs a few failing checkouts and prints each error's stack,
// the way React Native's error reporter collects them.
var cartModule = require(1);

function report(label, fn) {
  try {
    fn();
  } catch (error) {
    print('--- ' + label);
    print(error.stack);
  }
}

function applyAll(carts, code) {
  return carts.map(function (cart) {
    return cartModule.checkout(cart, code);
  });
}

const renderTotals = carts =>
  carts.forEach(cart => {
    const label = 'total: ' + cart.total().toFixed(2);
    if (label.length > 12) {
      null.render(label);
    }
  });

report('bad price', () => {
  new cartModule.Cart([{name: 'tea', price: -1, quantity: 1}]).total();
});
report('bad code', () => {
  applyAll([new cartModule.Cart([{name: 'jam', price: 3, quantity: 2}])], 'WINTER');
});
report('type error', function () {
  renderTotals([new cartModule.Cart([{name: 'bread', price: 25, quantity: 4}])]);
});
