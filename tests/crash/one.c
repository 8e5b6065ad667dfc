int two_entry(int x);
__attribute__((noinline)) int one_step(int x) {
    int r = two_entry(x * 2);
    return r + 5;
}
__attribute__((noinline)) int one_entry(int x) {
    int r = one_step(x + 3);
    return r - 1;
}
