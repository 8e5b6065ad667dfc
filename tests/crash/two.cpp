#include <cstddef>
namespace two {
struct Box { int *slot; };

static inline int poke(Box &b, int v) {
    *b.slot = v;               // the crash: slot is null
    return v + 1;
}

template <typename T>
__attribute__((always_inline)) inline int twice(Box &b, T v) {
    return poke(b, static_cast<int>(v) * 2) + 3;
}

__attribute__((noinline)) int deep(int x) {
    Box b{nullptr};
    if (x > 1000) return x;
    return twice(b, x) + 7;
}
}  // namespace two

extern "C" __attribute__((noinline)) int two_entry(int x) {
    int r = two::deep(x + 1);
    return r * 3;
}
